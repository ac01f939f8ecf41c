"""Benchmark: the same N feeds polled by 1, 2 and 3 `monitor run` replicas on one PostgreSQL.

    python -m tests.benchmarks.replicas [--feeds 2000] [--interval 2] [--seconds 30]
                                        [--replicas 1,2,3] [--per-host 100] [--pool-size N]

A local server (its own process) serves N distinct RSS feeds with ETags, built from the poll
benchmark's documents, and counts its answers. The feeds are polled every `--interval` seconds:
the offered load, N / interval polls/s, is above what one replica does, so each run shows its
capacity. One replica first polls every feed once (fetch, parse, record) into a template
database; each run then starts its replicas, as real subprocesses, on a fresh copy of it,
lets N polls be answered 304 to settle, and measures a steady state where every poll is a
conditional GET answered 304 and recorded: the polling machinery itself. Over the window:

- polls/s: requests the feed server answered;
- CPU: the replicas with their parser workers, the PostgreSQL server (postmaster and all its
  processes, ended backends included), the feed server with this process, and the whole
  machine (the rest is other processes' load on the same cores);
- the database: transactions on the run's database (pg_stat_database: xact_commit +
  xact_rollback), sessions opened, and the replicas' round trips to PostgreSQL, counted in
  each replica's asyncpg connections: BEGIN/COMMIT/ROLLBACK, statements, prepares (this server
  does not load pg_stat_statements, so statements are counted on the client side).

The feeds share one host, which stands for many: `--per-host` lifts the per-host limit
(default 4) to the global one. `--pool-size` is an experiment: each replica keeps that many
database connections open instead of the store's default pool, which opens and closes
connections beyond 5 as the load comes and goes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import functools
import mmap
import multiprocessing as mp
import os
import signal
import struct
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, BinaryIO

import asyncpg
import psutil
from aiohttp import web

from tests.benchmarks.poll import REPO, feed_templates
from tests.feedserver import Document, FeedServer, respond_with

ADMIN_URL = os.environ.get("MONITOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
FETCH_CONCURRENCY = 100  # the default MONITOR_FETCH_CONCURRENCY
STORE_POOL_MAX = 15  # SQLAlchemy's default pool: 5 kept open, 10 more as needed
STATUSES = (200, 304)  # the server's counters: these, then everything else
ROUND_TRIP_KINDS = ("begin/commit/rollback", "statements", "prepares")
WARM_UP_TIMEOUT = 600.0
POOL_SIZE_VARIABLE = "BENCH_REPLICA_POOL_SIZE"  # --pool-size, for the replica processes
STOP_TIMEOUT = 30.0


# ---- the feed server process -------------------------------------------------------------
class CountingFeedServer(FeedServer):
    """The tests' feed server without the request log: counts its answers by status instead."""

    def __init__(self, answers: Any) -> None:
        super().__init__()
        self.answers = answers  # a shared array: 200s, 304s, others

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        document = self.documents.get(request.path)
        if document is None:
            response = web.Response(status=404, text="not found")
        else:
            response = respond_with(document, request)
        slot = STATUSES.index(response.status) if response.status in STATUSES else len(STATUSES)
        self.answers[slot] += 1
        return response


def serve(count: int, answers: Any, conn: Connection) -> None:
    """The server process: serve `count` feeds until told to stop."""

    async def main() -> None:
        templates = feed_templates()
        server = CountingFeedServer(answers)
        for n in range(count):
            server.serve(f"/feed/{n}.xml", Document.of(templates[n % len(templates)]))
        await server.start()
        conn.send(server.port)
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # "stop"
        await server.stop()

    asyncio.run(main())


# ---- a replica: `monitor run` with its asyncpg round trips counted -----------------------
def replica_main() -> None:
    """`monitor run`, counting asyncpg round trips into the file named by argv[1]."""
    count_round_trips(map_counters(Path(sys.argv[1])))
    if pool_size := os.environ.get(POOL_SIZE_VARIABLE):
        from sqlalchemy.ext.asyncio import create_async_engine

        import monitor.store.database

        monitor.store.database.create_async_engine = functools.partial(  # type: ignore[attr-defined]
            create_async_engine, pool_size=int(pool_size), max_overflow=0
        )
    sys.argv = ["monitor", "run"]
    from monitor.cli import main

    main()


def map_counters(path: Path) -> Any:
    """The counters file (zeros written by the benchmark) as shared int64 slots."""
    with path.open("r+b") as file:
        shared = mmap.mmap(file.fileno(), 8 * len(ROUND_TRIP_KINDS))
    return (ctypes.c_int64 * len(ROUND_TRIP_KINDS)).from_buffer(shared)


def count_round_trips(counters: Any) -> None:
    """Wrap the asyncpg calls SQLAlchemy makes; each is one round trip to the server.

    A query without arguments goes by the simple protocol (BEGIN, COMMIT, ROLLBACK); a prepared
    statement's execution is Bind/Execute/Sync; a prepare is Parse/Describe/Sync.
    """
    from asyncpg.connection import Connection as PgConnection
    from asyncpg.prepared_stmt import PreparedStatement

    control, statements, prepares = range(len(ROUND_TRIP_KINDS))

    def wrap(cls: type, name: str, slot: Callable[[tuple[Any, ...]], int]) -> None:
        original = getattr(cls, name)

        @functools.wraps(original)
        async def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
            counters[slot(args)] += 1
            return await original(self, *args, **kwargs)

        setattr(cls, name, counted)

    wrap(PgConnection, "execute", lambda args: control if len(args) == 1 else statements)
    for name in ("executemany", "fetch", "fetchrow", "fetchval"):
        wrap(PgConnection, name, lambda args: statements)
        wrap(PreparedStatement, name, lambda args: statements)
    wrap(PgConnection, "prepare", lambda args: prepares)


def read_counters(path: Path) -> tuple[int, ...]:
    return struct.unpack(f"{len(ROUND_TRIP_KINDS)}q", path.read_bytes())


# ---- measuring ---------------------------------------------------------------------------
def tree_cpu(root: psutil.Process) -> float:
    """CPU seconds of a process and its descendants, including the ones they have reaped."""
    total = 0.0
    with contextlib.suppress(psutil.NoSuchProcess):
        for process in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                times = process.cpu_times()
                total += times.user + times.system + times.children_user + times.children_system
    return total


def find_postmaster() -> psutil.Process | None:
    for process in psutil.process_iter(["name", "ppid"]):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            if process.info["name"] == "postgres" and psutil.Process(
                process.info["ppid"]
            ).name() not in ("postgres", "postmaster"):
                return process
    return None


def note(message: str) -> None:
    print(f"  [{message}]", file=sys.stderr, flush=True)


def machine_busy() -> float:
    """CPU seconds the machine has spent running something, all cores."""
    times = psutil.cpu_times()
    busy = ("user", "nice", "system", "irq", "softirq")  # guest time is inside user already
    return float(sum(getattr(times, name, 0.0) for name in busy))


@dataclass(frozen=True)
class Snapshot:
    at: float
    answers: tuple[int, ...]  # 200, 304, other
    replica_cpu: float
    postgres_cpu: float
    server_cpu: float
    own_cpu: float
    machine_busy: float
    transactions: int
    sessions: int
    other_transactions: int  # on other databases of the same server: someone else's load
    round_trips: tuple[int, ...]
    feed_updates: int  # rows of the run's `feeds` table updated
    feed_hot_updates: int  # of which heap-only (no index entry written)


@dataclass
class Probe:
    """Everything a snapshot reads."""

    admin: asyncpg.Connection
    database: str
    run_db: asyncpg.Connection  # connected to `database`: its table statistics
    answers: Any
    server: psutil.Process
    postmaster: psutil.Process | None
    replicas: list[psutil.Process]
    counter_files: list[Path]

    async def snapshot(self) -> Snapshot:
        row = await self.admin.fetchrow(
            "SELECT sum(xact_commit + xact_rollback) FILTER (WHERE datname = $1) AS mine,"
            " sum(sessions) FILTER (WHERE datname = $1) AS sessions,"
            " sum(xact_commit + xact_rollback) FILTER (WHERE datname <> $1) AS others"
            " FROM pg_stat_database",
            self.database,
        )
        feeds = await self.run_db.fetchrow(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'feeds'"
        )
        assert row is not None and feeds is not None
        trips = [read_counters(path) for path in self.counter_files]
        return Snapshot(
            at=time.perf_counter(),
            answers=tuple(self.answers[:]),
            replica_cpu=sum(tree_cpu(r) for r in self.replicas),
            postgres_cpu=tree_cpu(self.postmaster) if self.postmaster else float("nan"),
            server_cpu=tree_cpu(self.server),
            own_cpu=sum(psutil.Process().cpu_times()[:2]),
            machine_busy=machine_busy(),
            transactions=int(row["mine"] or 0),
            sessions=int(row["sessions"] or 0),
            other_transactions=int(row["others"] or 0),
            round_trips=tuple(sum(kind) for kind in zip(*trips, strict=True)),
            feed_updates=int(feeds["n_tup_upd"]),
            feed_hot_updates=int(feeds["n_tup_hot_upd"]),
        )


@dataclass(frozen=True)
class Result:
    replicas: int
    offered: float
    before: Snapshot
    after: Snapshot

    def delta(self, field: str) -> float:
        return float(getattr(self.after, field) - getattr(self.before, field))

    @property
    def seconds(self) -> float:
        return self.delta("at")

    @property
    def answers(self) -> tuple[int, ...]:
        return tuple(b - a for a, b in zip(self.before.answers, self.after.answers, strict=True))

    @property
    def polls(self) -> int:
        return sum(self.answers)

    @property
    def rate(self) -> float:
        return self.polls / self.seconds

    def per_poll(self, field: str) -> float:
        return self.delta(field) / self.polls if self.polls else float("nan")

    @property
    def round_trips(self) -> tuple[int, ...]:
        pairs = zip(self.before.round_trips, self.after.round_trips, strict=True)
        return tuple(b - a for a, b in pairs)

    @property
    def cores(self) -> dict[str, float]:
        """CPU used, in cores, by part."""
        parts = {
            "replicas": self.delta("replica_cpu"),
            "postgres": self.delta("postgres_cpu"),
            "bench": self.delta("server_cpu") + self.delta("own_cpu"),
        }
        parts["others"] = self.delta("machine_busy") - sum(parts.values())
        return {name: cpu / self.seconds for name, cpu in parts.items()}


# ---- running the replicas ----------------------------------------------------------------
@contextlib.asynccontextmanager
async def fresh_database(
    admin: asyncpg.Connection, *, template: str | None = None
) -> AsyncIterator[str]:
    """A new database (a copy of `template`, if given), dropped on exit."""
    name = f"bench_replicas_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    for attempt in range(20):
        try:
            await admin.execute(f'CREATE DATABASE "{name}"{copy}')
            break
        except asyncpg.ObjectInUseError:  # the template's last sessions are still ending
            if attempt == 19:
                raise
            await asyncio.sleep(0.25)
    try:
        yield name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_url(database: str) -> str:
    return f"{ADMIN_URL.rsplit('/', 1)[0]}/{database}"


def database_url(database: str) -> str:
    """The replicas' MONITOR_DATABASE_URL."""
    return postgres_url(database).replace("postgresql://", "postgresql+asyncpg://", 1)


def write_config(folder: Path, urls: Sequence[str], interval: int) -> Path:
    lines = ["feeds:"]
    lines += [
        f"  - id: f{n}\n    url: {url}\n    interval: {interval}s" for n, url in enumerate(urls)
    ]
    lines += ["notifiers:", "  - id: console", "    type: console"]
    path = folder / "monitor.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def open_replica_files(counters: Path) -> BinaryIO:
    """Zero the replica's counters; its log (stderr) goes beside them."""
    counters.write_bytes(bytes(8 * len(ROUND_TRIP_KINDS)))
    return counters.with_suffix(".log").open("wb")


def log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


@dataclass
class Replica:
    process: asyncio.subprocess.Process
    counters: Path

    @property
    def log(self) -> Path:
        return self.counters.with_suffix(".log")

    def check_running(self) -> None:
        if self.process.returncode is not None:
            raise RuntimeError(
                f"a replica exited ({self.process.returncode}):\n{log_tail(self.log)}"
            )

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL to the whole process group, whatever happened."""
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        await self.process.wait()


@dataclass
class Bench:
    """The feed server, the admin connection and the settings shared by every run."""

    args: argparse.Namespace
    admin: asyncpg.Connection
    folder: Path
    answers: Any  # the feed server's shared counters: 200s, 304s, others
    server: psutil.Process
    postmaster: psutil.Process | None

    def env(self, database: str) -> dict[str, str]:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "MONITOR_CONFIG": str(self.folder / "monitor.yaml"),
            "MONITOR_DATABASE_URL": database_url(database),
            "MONITOR_LOG_LEVEL": "WARNING",
            "MONITOR_PER_HOST_CONCURRENCY": str(self.args.per_host),
            "MONITOR_FETCH_CONCURRENCY": str(FETCH_CONCURRENCY),
            "MONITOR_SHUTDOWN_GRACE": "5",
        }
        env.pop("MONITOR_STATUS_ADDR", None)
        env.pop(POOL_SIZE_VARIABLE, None)
        if self.args.pool_size:
            env[POOL_SIZE_VARIABLE] = str(self.args.pool_size)
        return env

    @contextlib.asynccontextmanager
    async def replicas(self, database: str, count: int, label: str) -> AsyncIterator[list[Replica]]:
        """`count` replicas of `monitor run` on `database`, stopped on exit."""
        started: list[Replica] = []
        try:
            for n in range(count):
                counters = self.folder / f"{label}-{n}.counters"
                started.append(Replica(await self._spawn(database, counters), counters))
            yield started
        finally:
            await asyncio.gather(*(replica.stop() for replica in started))

    async def _spawn(self, database: str, counters: Path) -> asyncio.subprocess.Process:
        log = open_replica_files(counters)
        try:
            return await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                "from tests.benchmarks.replicas import replica_main; replica_main()",
                str(counters),
                cwd=self.folder,
                env=self.env(database),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,  # its own process group: a kill takes its workers too
            )
        finally:
            log.close()

    async def wait_for_answers(
        self, replicas: Sequence[Replica], *, fetched: int, not_modified: int
    ) -> None:
        """Wait until the server has answered `fetched` more 200s and `not_modified` 304s."""
        start = self.answers[:]
        deadline = time.monotonic() + WARM_UP_TIMEOUT
        while self.answers[0] - start[0] < fetched or self.answers[1] - start[1] < not_modified:
            for replica in replicas:
                replica.check_running()
            if time.monotonic() > deadline:
                raise TimeoutError(f"no steady state after {WARM_UP_TIMEOUT:.0f}s")
            await asyncio.sleep(0.5)

    @contextlib.asynccontextmanager
    async def warm_template(self) -> AsyncIterator[str]:
        """A database where every feed has been polled, parsed and recorded (ETags stored),
        polled by one replica then stopped; each run starts from a copy of it."""
        async with fresh_database(self.admin) as template:
            async with self.replicas(template, 1, "template") as replicas:
                feeds = self.args.feeds
                await self.wait_for_answers(replicas, fetched=feeds, not_modified=feeds)
            yield template

    async def measure(self, count: int, template: str) -> Result:
        """`count` replicas on a copy of the template: one cycle to settle, then the window."""
        async with (
            fresh_database(self.admin, template=template) as database,
            self.replicas(database, count, f"run{count}") as replicas,
        ):
            started = time.monotonic()
            await self.wait_for_answers(replicas, fetched=0, not_modified=self.args.feeds)
            note(f"{count} replica(s): one cycle to settle in {time.monotonic() - started:.0f}s")
            run_db = await asyncpg.connect(postgres_url(database), timeout=10)
            try:
                probe = Probe(
                    self.admin,
                    database,
                    run_db,
                    self.answers,
                    self.server,
                    self.postmaster,
                    [psutil.Process(r.process.pid) for r in replicas],
                    [r.counters for r in replicas],
                )
                before = await probe.snapshot()
                await asyncio.sleep(self.args.seconds)  # the measurement window
                after = await probe.snapshot()
            finally:
                await run_db.close()
            for replica in replicas:
                replica.check_running()
        return Result(count, self.args.feeds / self.args.interval, before, after)


async def check_connection_budget(admin: asyncpg.Connection, args: argparse.Namespace) -> None:
    """Leave the server's other clients half its connections: past `max_connections`, theirs
    and the replicas' connections fail."""
    budget = int(await admin.fetchval("SHOW max_connections")) // 2
    per_replica = args.pool_size or STORE_POOL_MAX
    if max(args.replicas) * per_replica > budget:
        raise SystemExit(
            f"{max(args.replicas)} replicas × {per_replica} connections is more than half the "
            f"server's max_connections ({budget}): use fewer replicas or a smaller --pool-size"
        )


async def run(args: argparse.Namespace, on_result: Callable[[Result], None]) -> list[Result]:
    context = mp.get_context("spawn")
    answers = context.RawArray(ctypes.c_int64, len(STATUSES) + 1)
    parent, child = context.Pipe()
    server = context.Process(target=serve, args=(args.feeds, answers, child), daemon=True)
    server.start()
    results: list[Result] = []
    admin = await asyncpg.connect(ADMIN_URL, timeout=10)
    try:
        await check_connection_budget(admin, args)
        port = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
        urls = [f"http://127.0.0.1:{port}/feed/{n}.xml" for n in range(args.feeds)]
        with tempfile.TemporaryDirectory(prefix="bench-replicas-") as tmp:
            folder = Path(tmp)
            write_config(folder, urls, args.interval)
            assert server.pid is not None
            bench = Bench(
                args, admin, folder, answers, psutil.Process(server.pid), find_postmaster()
            )
            started = time.monotonic()
            async with bench.warm_template() as template:
                note(f"warm-up, every feed fetched and parsed: {time.monotonic() - started:.0f}s")
                for count in args.replicas:
                    result = await bench.measure(count, template)
                    results.append(result)
                    on_result(result)
    finally:
        await admin.close()
        parent.send("stop")
        server.join(10)
        if server.is_alive():
            server.kill()
    return results


# ---- the report --------------------------------------------------------------------------
COLUMNS = (
    ("replicas", 9),
    ("polls/s", 9),
    ("vs 1", 6),
    ("200s", 6),
    ("replica CPU", 12),
    ("PG CPU", 8),
    ("cores: repl", 12),
    ("PG", 6),
    ("server", 7),
    ("others", 7),
    ("xacts/poll", 11),
    ("trips/poll", 11),
    ("sessions", 9),
)


def header(args: argparse.Namespace) -> None:
    print(
        f"\nreplicas benchmark: {args.feeds} feeds every {args.interval}s (offered "
        f"{args.feeds / args.interval:.0f} polls/s), {args.seconds:.0f}s window, "
        f"{os.cpu_count()} cores, PostgreSQL on 127.0.0.1, fetch concurrency "
        f"{FETCH_CONCURRENCY}, per host {args.per_host}, database pool "
        + (f"{args.pool_size} kept" if args.pool_size else "the store's (5 kept, 10 more)")
    )
    print("CPU in s per 1,000 polls; cores: CPU seconds per second by part, during the window")
    line = "".join(f"{name:>{width}}" for name, width in COLUMNS)
    print(line)
    print("-" * len(line))


def row(result: Result, base: Result | None) -> str:
    ratio = result.rate / base.rate if base else 1.0
    cores = result.cores
    cells = (
        f"{result.replicas}",
        f"{result.rate:.0f}",
        f"{ratio:.2f}",
        f"{result.answers[0] + result.answers[2]}",
        f"{1000 * result.per_poll('replica_cpu'):.2f}",
        f"{1000 * result.per_poll('postgres_cpu'):.2f}",
        f"{cores['replicas']:.2f}",
        f"{cores['postgres']:.2f}",
        f"{cores['bench']:.2f}",
        f"{cores['others']:.2f}",
        f"{result.per_poll('transactions'):.2f}",
        f"{sum(result.round_trips) / result.polls:.2f}",
        f"{result.delta('sessions'):.0f}",
    )
    return "".join(f"{cell:>{width}}" for cell, (_, width) in zip(cells, COLUMNS, strict=True))


LEGEND = """
vs 1: polls/s against 1 replica's; 200s: polls in the window not answered 304;
replica CPU, PG CPU: CPU seconds per 1,000 polls (= ms per poll) of the replicas (parser
  workers included) and of the PostgreSQL server;
cores: CPU seconds per second in the window: replicas, PostgreSQL, the feed server with this
  process, and others (processes outside the benchmark, sharing the cores);
xacts: pg_stat_database commits and rollbacks on the run's database; trips: round trips;
sessions: connections the replicas opened in the window."""


def footer(results: Sequence[Result]) -> None:
    print("\nround trips per poll, by kind (counted in the replicas' asyncpg connections):")
    for result in results:
        kinds = ", ".join(
            f"{kind} {n / result.polls:.2f}"
            for kind, n in zip(ROUND_TRIP_KINDS, result.round_trips, strict=True)
        )
        others = result.delta("other_transactions")
        print(f"  {result.replicas} replica(s): {kinds}; other databases: {others:.0f} xacts")
    print("rows of the feeds table updated per poll (heap-only: no index entry written):")
    for result in results:
        updates = result.delta("feed_updates")
        hot = result.delta("feed_hot_updates") / updates if updates else float("nan")
        print(f"  {result.replicas} replica(s): {updates / result.polls:.2f} ({hot:.0%} heap-only)")
    print(LEGEND)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--interval", type=int, default=2, help="seconds between polls")
    parser.add_argument("--seconds", type=float, default=30, help="the measurement window")
    parser.add_argument("--per-host", type=int, default=FETCH_CONCURRENCY)
    parser.add_argument(
        "--pool-size",
        type=int,
        default=0,
        help="an experiment: each replica keeps this many database connections, no overflow "
        "(default: the store's own pool, 5 kept and 10 more opened and closed as needed)",
    )
    parser.add_argument(
        "--replicas",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 2, 3],
        help="replica counts to run, e.g. 1,2,3",
    )
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    header(args)
    results: list[Result] = []

    def show(result: Result) -> None:
        print(row(result, results[0] if results else None), flush=True)
        results.append(result)

    runner: Coroutine[Any, Any, list[Result]] = run(args, show)
    asyncio.run(runner)
    footer(results)


if __name__ == "__main__":
    main()
