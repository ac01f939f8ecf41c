"""Benchmark: `monitor once` side by side with rss2email, on the same local feeds.

    python -m tests.benchmarks.peer [--feeds 200[,2000]] [--rss2email-version 3.14] [--keep]

A server in its own process (`tests.benchmarks.peer_server`, so it does not share the measured
tool's core) serves N distinct RSS feeds of about 67 KB on 127.0.0.1, with ETag and
Last-Modified. Each tool polls them twice, from a fresh state: a first run (every feed new: fetch,
parse, store every item) and an unchanged run (every feed answers 304 to a conditional GET).

- rss2email runs from a venv of its own, made with `python -m venv` and `pip install
  rss2email==VERSION` from PyPI on first use and kept in `<system temp>/feed-monitor-bench-
  rss2email-VERSION/` (delete that folder to reinstall). It gets its feeds from an OPML file
  (`r2e new`, `r2e opmlimport`) and runs as `r2e -c CONFIG -d DATA run --no-send`; its sendmail
  is /bin/false besides, and proxies are cleared, so it can reach nothing but 127.0.0.1.
- monitor runs as `python -m monitor once --config monitor.yaml`: the same interpreter, the
  shipped example rules, a console notifier (its output goes to a log file that is deleted), a
  SQLite store in the temporary folder, default settings otherwise. Its bytecode is cached in the
  temporary folder (PYTHONPYCACHEPREFIX, written by `monitor check` first), as pip compiled
  rss2email's at install: without it, a PYTHONDONTWRITEBYTECODE environment would have monitor
  compile its own sources at every run (~0.1 s).
- "import floor" is a process that only imports the libraries DESIGN.md has `monitor once` use
  (SQLAlchemy's asyncio engine, aiosqlite, httpx, pydantic-settings), with the same cache: no
  `monitor once` can take less, so rss2email's time over it bounds the ratios reachable here.

Wall time is measured around each subprocess, CPU time from RUSAGE_CHILDREN (user + system of
the tool's process). Targets, as rss2email time / monitor time: >= 20x on the first run and
>= 5x on the unchanged run. The exit code is 1 if a target is missed, 2 if the benchmark could
not run. Temporary folders are removed (unless --keep); the rss2email venv is kept.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from monitor.config.defaults import default_rules_dir
from tests.benchmarks.peer_server import serve

REPO = Path(__file__).resolve().parents[2]
RSS2EMAIL_VERSION = "3.14"
FEED_BYTES = 67 * 1024
TARGETS = {"first": 20.0, "unchanged": 5.0}  # rss2email time / monitor time, at least
RUNS = ("first", "unchanged")
FLOOR = "floor"  # the row of the import floor
INSTALL_TIMEOUT = 600.0
SETUP_TIMEOUT = 120.0
# What DESIGN.md has `monitor once` import: its store, its HTTP client, its settings.
ONCE_LIBRARIES = ("sqlalchemy.ext.asyncio", "aiosqlite", "httpx", "pydantic_settings")


class BenchmarkError(Exception):
    """The benchmark could not run (install, set-up or a tool failed): exit code 2."""


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float


@dataclass(frozen=True)
class Result:
    tool: str
    run: str
    feeds: int
    timing: Timing
    served: str  # the server's response statuses during the run, e.g. "200:200"
    detail: str  # what the tool says it did

    @property
    def rate(self) -> str:
        return f"{self.feeds / self.timing.wall:.1f}" if self.feeds and self.timing.wall else "-"


# ---- subprocesses ------------------------------------------------------------------------
def tool_env(**extra: str) -> dict[str, str]:
    """This environment without proxies or MONITOR_* settings, plus `extra`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if "proxy" not in name.lower() and not name.startswith("MONITOR_")
    }
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env.update(extra)
    return env


def run_logged(
    command: list[str], *, cwd: Path, env: dict[str, str], timeout: float, log: Path
) -> Timing:
    """Run `command` with stdout and stderr to `log`; its wall and CPU seconds.

    Raises BenchmarkError on a timeout or a non-zero exit, with the end of the log.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with log.open("wb") as out:
        try:
            code = subprocess.run(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            ).returncode
        except subprocess.TimeoutExpired:
            raise BenchmarkError(f"{shown(command)}: no answer after {timeout:g} s") from None
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if code != 0:
        raise BenchmarkError(f"{shown(command)} exited with {code}:\n{tail(log)}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timing(wall, cpu)


def shown(command: list[str]) -> str:
    return " ".join(Path(part).name if part.startswith("/") else part for part in command)


def tail(log: Path, lines: int = 15) -> str:
    text = log.read_text(errors="replace").splitlines() if log.exists() else []
    return "\n".join("    " + line for line in text[-lines:])


# ---- the feed server ---------------------------------------------------------------------
class FeedProcess:
    """The peer_server process: its URLs, and the statuses it answered since last asked."""

    def __init__(self, count: int) -> None:
        context = mp.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=serve, args=(count, FEED_BYTES, child), daemon=True)
        self._process.start()
        child.close()
        if not self._conn.poll(SETUP_TIMEOUT):
            self.stop()
            raise BenchmarkError("the feed server did not start")
        port, self.mean_bytes = self._conn.recv()
        self.urls = [f"http://127.0.0.1:{port}/feed/{n}.xml" for n in range(count)]

    def served(self) -> str:
        self._conn.send("stats")
        statuses: dict[int, int] = self._conn.recv()
        return " ".join(f"{status}:{n}" for status, n in sorted(statuses.items())) or "none"

    def stop(self) -> None:
        with suppress(OSError):  # the server is already gone
            self._conn.send("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(10)
        self._conn.close()


@contextmanager
def feed_process(count: int) -> Iterator[FeedProcess]:
    feeds = FeedProcess(count)
    try:
        yield feeds
    finally:
        feeds.stop()


# ---- rss2email ---------------------------------------------------------------------------
def rss2email_venv(version: str) -> Path:
    """The `r2e` of a cached venv with rss2email==`version`, installed from PyPI if missing."""
    folder = Path(tempfile.gettempdir()) / f"feed-monitor-bench-rss2email-{version}"
    r2e, ready = folder / "bin" / "r2e", folder / ".installed"
    if ready.exists() and r2e.exists():
        return r2e
    shutil.rmtree(folder, ignore_errors=True)  # a half-made one from an interrupted run
    print(f"installing rss2email=={version} into {folder} (kept for later runs)", flush=True)
    steps = [
        [sys.executable, "-m", "venv", str(folder)],
        [str(folder / "bin" / "python"), "-m", "pip", "install", "-q", f"rss2email=={version}"],
    ]
    for step in steps:
        try:
            done = subprocess.run(
                step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            shutil.rmtree(folder, ignore_errors=True)
            raise BenchmarkError(f"{shown(step)} took over {INSTALL_TIMEOUT:.0f} s") from None
        if done.returncode != 0:
            shutil.rmtree(folder, ignore_errors=True)
            output = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
            raise BenchmarkError(
                f"could not install rss2email=={version} (is PyPI reachable?): "
                f"{shown(step)} exited with {done.returncode}:\n{output}"
            )
    ready.write_text(version + "\n")
    return r2e


class Rss2email:
    name = "rss2email"

    def __init__(self, r2e: Path, folder: Path, urls: list[str], timeout: float) -> None:
        self.folder, self.urls, self.timeout = folder, urls, timeout
        self.config, self.data = folder / "r2e.cfg", folder / "r2e.json"
        self.base = [str(r2e), "-c", str(self.config), "-d", str(self.data)]
        self.env = tool_env()

    def prepare(self) -> None:
        self.folder.mkdir(parents=True)
        opml = self.folder / "feeds.opml"
        outlines = "\n".join(
            f'<outline type="rss" text="f{n}" title="f{n}" xmlUrl={quoteattr(url)}/>'
            for n, url in enumerate(self.urls)
        )
        opml.write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n<opml version="1.0">'
            f"<head><title>peer benchmark</title></head><body>\n{outlines}\n</body></opml>\n"
        )
        self._setup(["new", "bench@example.invalid"])
        self._setup(["opmlimport", str(opml)])
        # --no-send sends nothing; a sendmail that does nothing makes sure of it.
        lines = self.config.read_text().splitlines()
        lines = ["sendmail = /bin/false" if ln.startswith("sendmail =") else ln for ln in lines]
        self.config.write_text("\n".join(lines) + "\n")

    def _setup(self, arguments: list[str]) -> None:
        log = self.folder / "setup.log"
        run_logged(
            self.base + arguments, cwd=self.folder, env=self.env, timeout=SETUP_TIMEOUT, log=log
        )

    def run(self, label: str) -> tuple[Timing, str]:
        log = self.folder / f"{label}.log"
        timing = run_logged(
            [*self.base, "run", "--no-send"],
            cwd=self.folder,
            env=self.env,
            timeout=self.timeout,
            log=log,
        )
        feeds = json.loads(self.data.read_text())["feeds"]
        seen = sum(len(feed.get("seen", {})) for feed in feeds)
        text = log.read_text(errors="replace")
        problems = text.count("[WARNING]") + text.count("[ERROR]") + text.count("[CRITICAL]")
        return timing, f"{seen} entries seen in all, {problems} warnings/errors"

    def startup(self) -> Timing:
        log = self.folder / "version.log"
        return run_logged(
            [self.base[0], "--version"], cwd=self.folder, env=self.env, timeout=60, log=log
        )


# ---- monitor -----------------------------------------------------------------------------
class Monitor:
    name = "monitor"

    def __init__(self, folder: Path, urls: list[str], timeout: float) -> None:
        self.folder, self.urls, self.timeout = folder, urls, timeout
        self.config = folder / "monitor.yaml"
        self.base = [sys.executable, "-m", "monitor"]
        database = f"sqlite+aiosqlite:///{folder / 'monitor.db'}"
        self.env = tool_env(
            MONITOR_DATABASE_URL=database, PYTHONPYCACHEPREFIX=str(folder / "bytecode")
        )
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)

    def prepare(self) -> None:
        self.folder.mkdir(parents=True)
        lines = ["feeds:"]
        lines += [f"  - id: f{n}\n    url: {url}" for n, url in enumerate(self.urls)]
        lines += [f"rules: [{json.dumps(str(default_rules_dir()))}]"]
        lines += ["notifiers:", "  - id: console", "    type: console"]
        self.config.write_text("\n".join(lines) + "\n")
        # Validates the files and warms the imports, as `r2e new` does for rss2email.
        run_logged(
            [*self.base, "check", "--config", str(self.config)],
            cwd=self.folder,
            env=self.env,
            timeout=SETUP_TIMEOUT,
            log=self.folder / "check.log",
        )

    def run(self, label: str) -> tuple[Timing, str]:
        log = self.folder / f"{label}.log"
        timing = run_logged(
            [*self.base, "once", "--config", str(self.config)],
            cwd=self.folder,
            env=self.env,
            timeout=self.timeout,
            log=log,
        )
        said = log.read_text(errors="replace").splitlines()
        summary = [line for line in said if line.startswith(("polled ", "recorded ", "failed"))]
        return timing, "; ".join(summary) or "(no summary printed)"

    def startup(self) -> Timing:
        log = self.folder / "version.log"
        return run_logged(
            [*self.base, "--version"], cwd=self.folder, env=self.env, timeout=60, log=log
        )

    def import_floor(self) -> Timing:
        """The best of three runs of a process that only imports the libraries of `once`."""
        command = [sys.executable, "-c", f"import {', '.join(ONCE_LIBRARIES)}"]
        log = self.folder / "floor.log"
        runs = [
            run_logged(command, cwd=self.folder, env=self.env, timeout=60, log=log)
            for _ in range(3)
        ]
        return min(runs, key=lambda timing: timing.wall)


# ---- the benchmark -----------------------------------------------------------------------
def bench(count: int, r2e: Path, timeout: float, keep: bool) -> tuple[float, list[Result]]:
    """Both tools, both runs, on `count` feeds: the mean feed size and the results."""
    folder = Path(tempfile.mkdtemp(prefix=f"peer-bench-{count}-"))
    try:
        with feed_process(count) as feeds:
            tools = [
                Rss2email(r2e, folder / "rss2email", feeds.urls, timeout),
                Monitor(folder / "monitor", feeds.urls, timeout),
            ]
            results = []
            for tool in tools:
                tool.prepare()
                startup = tool.startup()
                results.append(Result(tool.name, "startup", 0, startup, "-", "--version"))
                feeds.served()  # reset the counts
                for label in RUNS:
                    print(f"  {tool.name} {label} run, {count} feeds ...", flush=True)
                    timing, detail = tool.run(label)
                    results.append(Result(tool.name, label, count, timing, feeds.served(), detail))
                if isinstance(tool, Monitor):
                    libraries = ", ".join(ONCE_LIBRARIES)
                    floor = Result(tool.name, FLOOR, 0, tool.import_floor(), "-", libraries)
                    results.append(floor)
            return feeds.mean_bytes, results
    finally:
        if keep:
            print(f"  kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def report(count: int, mean_bytes: float, results: list[Result], version: str) -> bool:
    """Print the table and the ratios; whether every target was met."""
    print(
        f"\npeer benchmark: {count} feeds, RSS of {mean_bytes / 1024:.1f} KB on average, "
        f"served from 127.0.0.1 by a separate process; {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )
    print(f"rss2email {version}: r2e -c CONFIG -d DATA run --no-send (venv of its own)")
    print(f"monitor:        {Path(sys.executable).name} -m monitor once --config monitor.yaml")
    header = f"{'tool':<11}{'run':<11}{'feeds':>6}{'wall s':>9}{'CPU s':>8}{'feeds/s':>9}"
    header += f"  {'served':<12}tool says"
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.tool:<11}{r.run:<11}{r.feeds or '-':>6}{r.timing.wall:>9.2f}{r.timing.cpu:>8.2f}"
            f"{r.rate:>9}  {r.served:<12}{r.detail}"
        )
    by_key = {(r.tool, r.run): r for r in results}
    print(f"\n{'rss2email / monitor':<21}{'wall':>8}{'CPU':>8}{'target':>9}  {'':<8}{'at most':>8}")
    met_all = True
    floor = by_key["monitor", FLOOR].timing
    for label in RUNS:
        theirs, ours = by_key["rss2email", label].timing, by_key["monitor", label].timing
        wall = theirs.wall / ours.wall if ours.wall else float("inf")
        cpu = theirs.cpu / ours.cpu if ours.cpu else float("inf")
        met = wall >= TARGETS[label]
        met_all &= met
        verdict = "met" if met else "MISSED"
        reachable = theirs.wall / floor.wall if floor.wall else float("inf")
        print(
            f"{label + ' run':<21}{wall:>7.1f}x{cpu:>7.1f}x{'>= ' + f'{TARGETS[label]:.0f}x':>9}"
            f"  {verdict:<8}{reachable:>7.1f}x"
        )
    print(
        "at most: rss2email's wall time over the import floor's, the ratio a `monitor once` "
        "that did nothing but import its libraries would reach"
    )
    return met_all


def feed_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: use a number or numbers, 200,2000") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: use a number or numbers, 200,2000")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--feeds", type=feed_counts, default=[200], help="feed counts, e.g. 200 or 200,2000"
    )
    parser.add_argument("--rss2email-version", default=RSS2EMAIL_VERSION)
    parser.add_argument(
        "--timeout", type=float, help="seconds per tool run (default: 120 + 0.5 per feed)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = parser.parse_args()
    met_all = True
    try:
        r2e = rss2email_venv(args.rss2email_version)
        for count in args.feeds:
            timeout = args.timeout or 120 + 0.5 * count
            mean_bytes, results = bench(count, r2e, timeout, args.keep)
            met_all &= report(count, mean_bytes, results, args.rss2email_version)
    except BenchmarkError as error:
        print(f"peer benchmark failed: {error}", file=sys.stderr)
        sys.exit(2)
    sys.exit(0 if met_all else 1)


if __name__ == "__main__":
    main()
