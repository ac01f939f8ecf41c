"""`monitor run` as a real subprocess for tests: its log lines as they come, its status server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.test_cli import MONITOR

STATUS_LINE = re.compile(r"status server on (http://\S+)")

# Runs the daemon so that it is killed when the test process dies, even if the test's
# finalizers never run (an interrupted run): no daemon outlives the tests. PR_SET_PDEATHSIG
# (Linux) survives the exec; set in a launcher, not in preexec_fn, which is unsafe with threads.
_LAUNCH = (
    "import ctypes, os, signal, sys\n"
    "if sys.platform == 'linux':\n"
    "    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n"
)


class Daemon:
    """Start with `await Daemon.start(cwd, env)`; the status server listens on a free port."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())
        self.status_url = ""

    @classmethod
    async def start(cls, cwd: Path, env: dict[str, str] | None = None) -> Daemon:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _LAUNCH,
            *MONITOR,
            "run",
            cwd=cwd,
            env={**os.environ, "MONITOR_STATUS_ADDR": "127.0.0.1:0", **(env or {})},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its own process group: a kill takes its workers too
        )
        daemon = cls(process)
        line = await daemon.wait_for_log(STATUS_LINE.pattern)
        found = STATUS_LINE.search(line)
        assert found is not None
        daemon.status_url = found.group(1)
        return daemon

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            async with self._changed:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()

    async def wait_for_log(self, pattern: str, *, count: int = 1, timeout: float = 30) -> str:
        """The `count`-th log line matching `pattern` (a regex), once it has been written."""
        regex = re.compile(pattern)

        def matching() -> list[str]:
            return [line for line in self.lines if regex.search(line)]

        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(matching()) >= count or self._reader.done())
        found = matching()
        if len(found) < count:
            raise AssertionError(f"no log line /{pattern}/ in:\n" + "\n".join(self.lines))
        return found[count - 1]

    async def get(self, path: str) -> httpx.Response:
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.get(self.status_url + path)

    async def json(self, path: str) -> Any:
        response = await self.get(path)
        response.raise_for_status()
        return response.json()

    def signal(self, signum: int) -> None:
        """Send `signum`; SIGKILL goes to the whole process group (the parser workers too),
        as a container runtime or the OOM killer would."""
        if signum == signal.SIGKILL:
            self._kill_group()
        else:
            self.process.send_signal(signum)

    def _kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    async def stop(self, timeout: float = 30, *, signal_it: bool = True) -> int:
        """SIGTERM (unless `signal_it` is false: it was sent already), then the exit code
        (SIGKILL if it does not stop in time)."""
        if signal_it and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(timeout):
                code = await self.process.wait()
        except TimeoutError:
            self._kill_group()
            code = await self.process.wait()
        self._kill_group()  # nothing of it left running, whatever happened
        _, pending = await asyncio.wait({self._reader}, timeout=5)
        for task in pending:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        return code

    async def __aenter__(self) -> Daemon:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
