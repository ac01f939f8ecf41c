"""Runs `parse_feed` off the event loop: in a process pool (the default) or a thread pool.

At most `workers * 2` bodies are handed to the pool at once; further callers wait their turn.
Whatever goes wrong in a worker comes back as a `ParseError` for that feed only: a crashed or
stuck worker process is killed and the pool replaced. Only a process pool can stop a parse that
runs past the timeout (feedparser has super-linear paths on hostile markup); a thread keeps
running until the parse ends, though its caller gets its ParseError at the timeout.

The pool is made for the first parse: a run that parses nothing (every feed unchanged) starts
no process, not even multiprocessing's resource tracker. Worker processes fork from a server
that has imported the parser already (forkserver preload), instead of each importing it. With
`inline_jobs`, the first few small bodies are parsed in a thread instead: when only a few feeds
changed (`monitor once` from cron), starting processes would cost more than the parsing (about
0.3 s against 10 ms a feed).

Each worker process is limited to `memory_limit` bytes of address space (`RLIMIT_AS`): a parse
that needs more gets a MemoryError, its feed a ParseError that says so, and the pool is retired
(its other jobs finish, new ones go to new workers). The inline thread cannot be limited; what
keeps it safe is said at `_inline_safe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from monitor.errors import ParseError
from monitor.models import ParsedFeed

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing.connection import Connection
    from multiprocessing.context import BaseContext

DEFAULT_TIMEOUT = 30.0  # seconds; feedparser reads a normal feed at 1-2 MB/s on one core
# A worker's address space: a 10 MiB feed peaks near 200 MiB (with one malloc arena).
DEFAULT_MEMORY_LIMIT = 256 * 1024 * 1024
M_ARENA_MAX = -8  # glibc's mallopt parameter
LIFELINE_STACK = 256 * 1024
MAX_WORKERS = 8
MAX_REASON_LENGTH = 500
# What the fork server imports before it forks workers: its default (`__main__`) and the parser.
FORKSERVER_PRELOAD = ("__main__", "monitor.parse.document")
# The largest body parsed in a thread before the process pool starts. A hostile body on one of
# feedparser's quadratic paths (unclosed comments) takes about 1 s at this size, over a minute
# at 1 MB: a parse that cannot be stopped stays short.
INLINE_MAX_BYTES = 128 * 1024
# The longest feed URL a body parsed inline may have (see `_inline_safe`).
INLINE_MAX_URL = 512


@dataclass(frozen=True, slots=True)
class WorkerFailure:
    """A ParseError's reason, carried back from a worker (FeedError does not pickle)."""

    reason: str
    out_of_memory: bool = False


def parse_in_worker(
    body: bytes, feed_id: str, url: str, content_type: str | None, memo: bytes | None = None
) -> ParsedFeed | WorkerFailure:
    """The job a worker runs: `parse_feed`, with every exception turned into a WorkerFailure."""
    from monitor.parse.document import parse_feed  # loads lxml and feedparser: on first use

    try:
        return parse_feed(body, feed_id=feed_id, url=url, content_type=content_type, memo=memo)
    except ParseError as exc:
        return WorkerFailure(_reason(exc))
    except MemoryError:  # the worker's RLIMIT_AS; the parse's memory is freed on return
        return WorkerFailure("out of memory", out_of_memory=True)
    except Exception as exc:  # a parser bug on hostile input: one bad feed never breaks the pool
        return WorkerFailure(f"parser failed: {type(exc).__name__}: {exc}"[:MAX_REASON_LENGTH])


def _reason(exc: ParseError) -> str:
    """The reason with its cause, as `MonitorError.__str__` shows it, without the feed prefix."""
    reason, cause = exc.reason, exc.__cause__
    if cause is not None and str(cause) and str(cause) not in reason:
        reason = f"{reason}: {type(cause).__name__}: {cause}"
    return reason[:MAX_REASON_LENGTH]


def default_workers() -> int:
    """One worker per core but one, at least one: the daemon's own process (the event loop and
    the store thread) keeps a core busy. On 2 cores a second worker made no cycle of 10,000
    feeds and 5,000 rules faster (as in `tests.benchmarks.cycle`: priming 93 s, 10% changed
    9.1 s, all changed 29.5 s with one worker; 93 s, 8.7 s, 29.9 s with two) and cost 48 MB."""
    return max(1, min(MAX_WORKERS, (os.cpu_count() or 1) - 1))


class FeedParser:
    """Parses feed bodies in a pool, never on the event loop. Use as `async with FeedParser():`.

    `use_processes=False` runs a thread pool: fine for tests and small installs, but a parse
    holds the GIL, so it slows the loop, and a runaway parse cannot be stopped.

    `inline_jobs`: with processes, up to this many bodies of at most `INLINE_MAX_BYTES` are
    parsed in one thread until the process pool starts, which the next body (or a larger one)
    does. Few changed feeds then cost no process at all.
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        use_processes: bool = True,
        timeout: float | None = DEFAULT_TIMEOUT,
        inline_jobs: int = 0,
        memory_limit: int | None = DEFAULT_MEMORY_LIMIT,
    ) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.workers = workers or default_workers()
        self.use_processes = use_processes
        self.timeout = timeout
        self.memory_limit = memory_limit  # per worker process; None: unlimited
        self._slots = asyncio.Semaphore(self.workers * 2)
        self._pending = 0
        self._executor: Executor | None = None  # made by the first parse
        self._inline: ThreadPoolExecutor | None = None
        self._inline_left = inline_jobs if use_processes else 0
        self._closed = False
        self._lifeline: tuple[Connection, Connection] | None = None  # made with the first pool

    def _open_executor(self, body: bytes, url: str) -> Executor:
        if self._closed:
            raise RuntimeError("FeedParser is closed")
        if self._executor is None and self._inline_left > 0 and _inline_safe(body, url):
            self._inline_left -= 1
            if self._inline is None:
                self._inline = ThreadPoolExecutor(1, thread_name_prefix="monitor-parse-inline")
            return self._inline
        if self._executor is None:
            self._executor = self._new_executor()
        return self._executor

    def _new_executor(self) -> Executor:
        if not self.use_processes:
            return ThreadPoolExecutor(self.workers, thread_name_prefix="monitor-parse")
        if self._lifeline is None:
            import multiprocessing

            self._lifeline = multiprocessing.Pipe(duplex=False)
        return _new_process_pool(self.workers, self._lifeline[0], self.memory_limit)

    async def parse(
        self,
        body: bytes,
        *,
        feed_id: str,
        url: str,
        content_type: str | None = None,
        memo: bytes | None = None,
    ) -> ParsedFeed:
        """`parse_feed` in the pool (`memo`: the feed's last `item_memo`): ParseError for
        whatever fails with this feed.

        Waits for a free slot first. RuntimeError after `aclose()`.
        """
        await self._slots.acquire()
        try:
            executor = self._open_executor(body, url)
        except BaseException:
            self._slots.release()
            raise
        try:
            future = self._submit(
                executor, body, feed_id, url, content_type=content_type, memo=memo
            )
        except BaseException as exc:
            self._slots.release()
            if _is_broken_pool(exc):  # it broke while idle
                raise self._broken(executor, feed_id=feed_id, url=url) from exc
            raise
        outcome = await self._outcome(executor, future, feed_id=feed_id, url=url)
        if isinstance(outcome, WorkerFailure):
            if outcome.out_of_memory:
                raise ParseError(self._out_of_memory(executor), feed_id=feed_id, url=url)
            raise ParseError(outcome.reason, feed_id=feed_id, url=url)
        return outcome

    def _out_of_memory(self, executor: Executor) -> str:
        """Retire a pool one of whose workers ran out of memory: its other jobs finish there,
        the next parse starts new workers. The reason for the feed."""
        if executor is self._executor and _is_process_pool(executor) and not self._closed:
            executor.shutdown(wait=False)
            self._executor = None
        if self.memory_limit is None or not _is_process_pool(executor):
            return "parse ran out of memory"
        return f"parse exceeded the parser's memory limit of {_mebibytes(self.memory_limit)}"

    def _submit(
        self,
        executor: Executor,
        body: bytes,
        feed_id: str,
        url: str,
        *,
        content_type: str | None,
        memo: bytes | None,
    ) -> Future[ParsedFeed | WorkerFailure]:
        loop = asyncio.get_running_loop()
        future = executor.submit(parse_in_worker, body, feed_id, url, content_type, memo)
        self._pending += 1
        # The slot is freed when the job ends, not when the caller stops waiting (timeout,
        # cancellation), so the pool never holds more than workers * 2 bodies.
        future.add_done_callback(lambda _: _call_soon(loop, self._job_done))
        return future

    def _job_done(self) -> None:
        self._pending -= 1
        self._slots.release()

    @property
    def pending(self) -> int:
        """Jobs handed to the pool and not finished: at most `workers * 2`."""
        return self._pending

    async def _outcome(
        self,
        executor: Executor,
        future: Future[ParsedFeed | WorkerFailure],
        *,
        feed_id: str,
        url: str,
    ) -> ParsedFeed | WorkerFailure:
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except TimeoutError:
            self._stop_runaway(executor)
            return WorkerFailure(f"parsing took longer than {self.timeout:g} s")
        except (asyncio.CancelledError, ParseError):
            raise
        except Exception as exc:
            if _is_broken_pool(exc):
                raise self._broken(executor, feed_id=feed_id, url=url) from exc
            # e.g. a result that would not pickle
            raise ParseError("parser pool failed", feed_id=feed_id, url=url) from exc

    def _broken(self, executor: Executor, *, feed_id: str, url: str) -> ParseError:
        self._replace(executor)
        limit = self.memory_limit
        within = f" (its memory limit: {_mebibytes(limit)})" if limit is not None else ""
        return ParseError(f"parser process died{within}", feed_id=feed_id, url=url)

    def _stop_runaway(self, executor: Executor) -> None:
        """Kill the pool's processes (the only way to stop one job); the next parse starts a new
        pool."""
        if _is_process_pool(executor) and executor is self._executor:
            _kill_workers(executor)
            self._replace(executor)

    def _replace(self, executor: Executor) -> None:
        """Drop a broken pool, once, however many jobs saw it break: the next parse makes a new
        one."""
        if executor is self._executor and not self._closed:
            executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def aclose(self) -> None:
        """Let the jobs in the pool finish, up to the timeout, then stop the workers. Idempotent.

        A process pool's jobs still running at the timeout are killed; a thread cannot be.
        """
        if self._closed:
            return
        self._closed = True
        executors = [e for e in (self._inline, self._executor) if e is not None]
        if not executors:  # nothing was parsed
            return
        stopping = asyncio.ensure_future(
            asyncio.gather(*(asyncio.to_thread(e.shutdown, wait=True) for e in executors))
        )
        try:
            await asyncio.wait_for(asyncio.shield(stopping), self.timeout)
        except TimeoutError:
            for executor in executors:
                if _is_process_pool(executor):
                    _kill_workers(executor)
            await stopping
        finally:
            if self._lifeline is not None:
                for end in self._lifeline:
                    end.close()

    async def __aenter__(self) -> FeedParser:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def _inline_safe(body: bytes, url: str) -> bool:
    """Whether `body` may be parsed in the daemon's own process, where no memory limit holds.

    A parse's memory grows with its body, times a small factor, but for two amplifiers:
    entities, which `parse_feed` refuses before any parser runs when they would expand past
    1 MiB (`entities.py`), and relative links, each made absolute against the base, which the
    feed's URL or an `xml:base` sets: `<a href=x>` repeated under a 60 KB `xml:base` made 150 MB
    of 128 KB. So a small body with no "base" in it, from a short URL, stays small.
    """
    return len(body) <= INLINE_MAX_BYTES and len(url) <= INLINE_MAX_URL and b"base" not in body


def _mebibytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MiB"


def _new_process_pool(
    workers: int, lifeline: Connection, memory_limit: int | None
) -> ProcessPoolExecutor:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # Not fork: the daemon has threads and an event loop, which a forked child would inherit.
    context: BaseContext
    if "forkserver" in multiprocessing.get_all_start_methods():
        forkserver = multiprocessing.get_context("forkserver")
        # Applies when this process starts its fork server, at the first pool's first job.
        forkserver.set_forkserver_preload(list(FORKSERVER_PRELOAD))
        context = forkserver
    else:
        context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(lifeline, memory_limit),
    )


def _start_worker(lifeline: Connection, memory_limit: int | None) -> None:
    """Pool initializer: the memory limit, then the watch on the daemon."""
    if memory_limit is not None:
        _limit_memory(memory_limit)
    _exit_with_parent(lifeline)


def _limit_memory(limit: int) -> None:
    """`RLIMIT_AS` for this worker. glibc gives each thread that allocates its own arena, 64 MiB
    of reserved address space; one arena (the lifeline thread allocates little) keeps that
    for the parse."""
    import ctypes
    import resource

    with contextlib.suppress(OSError, AttributeError):  # not glibc: the limit still holds
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, 1)
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _exit_with_parent(lifeline: Connection) -> None:
    """Pool initializer: the worker exits once `lifeline`, the read end of a pipe whose write
    end only the daemon holds, reads EOF. A worker waits for work on a queue whose write end
    it holds itself, so without this it outlived a daemon killed with SIGKILL (or by the OOM
    killer), with the fork server and resource tracker it keeps open."""

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            lifeline.recv_bytes()
        os._exit(1)

    size = threading.stack_size(LIFELINE_STACK)  # it only waits: not 8 MiB of address space
    try:
        threading.Thread(target=watch, name="monitor-parse-lifeline", daemon=True).start()
    finally:
        threading.stack_size(size)


def _is_process_pool(executor: Executor) -> bool:
    module = sys.modules.get("concurrent.futures.process")
    return module is not None and isinstance(executor, module.ProcessPoolExecutor)


def _is_broken_pool(exc: BaseException) -> bool:
    """Whether `exc` is a BrokenProcessPool (its module is loaded if a process pool was made)."""
    module = sys.modules.get("concurrent.futures.process")
    return module is not None and isinstance(exc, module.BrokenProcessPool)


def _kill_workers(executor: Executor) -> None:
    kill = getattr(executor, "kill_workers", None)  # public from Python 3.14
    if kill is not None:
        kill()
        return
    processes = getattr(executor, "_processes", None) or {}
    for process in list(processes.values()):
        process.kill()


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], object]) -> None:
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for the slot
        loop.call_soon_threadsafe(callback)
