"""`monitor once` shows progress on a terminal and stays plain when its output is not one."""

from __future__ import annotations

import asyncio
import fcntl
import io
import logging
import os
import pty
import re
import struct
import termios
from pathlib import Path

from rich.console import Console

from monitor.cli.progress import poll_progress
from monitor.logging import configure_logging
from monitor.models import PollOutcome, PollStatus
from tests.feedserver import Document, FeedServer
from tests.test_cli import MONITOR, monitor
from tests.test_pipeline import rss


def write_config(folder: Path, urls: list[str]) -> None:
    lines = ["feeds:"]
    for index, url in enumerate(urls):
        lines += [f"  - id: feed{index}", f"    url: {url}"]
    (folder / "monitor.yaml").write_text("\n".join(lines) + "\n")


async def test_once_shows_progress_on_a_terminal(tmp_path: Path, feed_server: FeedServer) -> None:
    urls = [feed_server.serve(f"/{n}.xml", Document.of(rss(("a", "A", "a")))) for n in range(3)]
    write_config(tmp_path, urls)
    leader, follower = pty.openpty()
    try:
        process = await asyncio.create_subprocess_exec(
            *MONITOR,
            "once",
            cwd=tmp_path,
            env={**os.environ, "COLUMNS": "100", "TERM": "xterm"},
            stdout=asyncio.subprocess.PIPE,
            stderr=follower,
        )
        out, _ = await asyncio.wait_for(process.communicate(), 60)
        os.close(follower)
        follower = -1
        screen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed once the process exited
                break
            if not chunk:
                break
            screen += chunk
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)

    assert process.returncode == 0
    text = screen.decode(errors="replace")
    assert "polling" in text
    assert "3/3" in text
    assert "polled 3 feeds" in out.decode()


async def test_once_is_plain_off_a_terminal(tmp_path: Path, feed_server: FeedServer) -> None:
    write_config(tmp_path, [feed_server.serve("/a.xml", Document.of(rss(("a", "A", "a"))))])

    code, out, err = await monitor("once", cwd=tmp_path)

    assert code == 0, err
    assert "\x1b[" not in out + err  # no terminal control sequences
    assert "polling" not in err
    assert out.splitlines()[0] == "polled 1 feed (1 ok)"


async def on_terminal(
    *args: str, cwd: Path, streams: tuple[str, ...] = ("stderr",), columns: int = 100
) -> tuple[int, str, str]:
    """Run `monitor ARGS` with `streams` (stdout, stderr) on a pseudo-terminal `columns` wide;
    returns the exit code, what the other stream printed, and what the terminal received."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    loop = asyncio.get_running_loop()
    screen = bytearray()
    closed = asyncio.Event()

    def readable() -> None:  # read as it comes: a full terminal buffer would block the writer
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: every end of the follower is closed
            chunk = b""
        if chunk:
            screen.extend(chunk)
        else:
            loop.remove_reader(leader)
            closed.set()

    loop.add_reader(leader, readable)
    try:
        pipe = asyncio.subprocess.PIPE
        process = await asyncio.create_subprocess_exec(
            *MONITOR,
            *args,
            cwd=cwd,
            env={**os.environ, "COLUMNS": str(columns), "TERM": "xterm"},
            stdout=follower if "stdout" in streams else pipe,
            stderr=follower if "stderr" in streams else pipe,
        )
        os.close(follower)
        follower = -1
        out, err = await asyncio.wait_for(process.communicate(), 60)
        await asyncio.wait_for(closed.wait(), 10)
    finally:
        loop.remove_reader(leader)
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    assert process.returncode is not None
    piped = (out if "stdout" not in streams else err) or b""
    return process.returncode, piped.decode(), screen.decode(errors="replace")


LOG_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO|WARNING) +[\w.]+: [^\r\n]*")
CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


async def test_log_lines_never_run_into_the_progress_bar(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    urls = [feed_server.serve(f"/{n}.xml", Document.of(rss(("a", "A", "a")))) for n in range(2)]
    write_config(tmp_path, [*urls, "http://127.0.0.1:9/down.xml"])

    code, out, screen = await on_terminal("once", cwd=tmp_path)

    assert code == 0, screen
    assert "polling" in screen and "3/3" in screen
    text = CONTROL.sub("", screen)  # what is left is what is printed, and where lines start
    logged = list(LOG_LINE.finditer(text))
    messages = [m.group() for m in logged]
    # the start-up lines, printed while the bar shows, and the failed feed's warning, whole
    assert any("store " in m and " ready: 3 feeds" in m for m in messages), text
    assert any(
        "feed feed2 (http://127.0.0.1:9/down.xml): connection refused" in m for m in messages
    )
    for match in logged:
        before = text[: match.start()]
        assert before == "" or before.endswith(("\n", "\r")), repr(text[match.start() - 80 :])
    assert out.splitlines()[0] == "polled 3 feeds (2 ok, 1 failed)"


def test_the_progress_display_takes_the_log_and_gives_it_back() -> None:
    log, root = logging.getLogger("monitor.test_progress"), logging.getLogger()
    saved = root.handlers[:], root.level
    stream, screen = io.StringIO(), io.StringIO()
    configure_logging("INFO", stream=stream)
    console = Console(file=screen, force_terminal=True, width=100, color_system=None)
    try:
        with poll_progress(2, console) as advance:
            advance(PollOutcome("a", PollStatus.NEW_ITEMS))
            log.warning("feed b: a title with \x1b[31mcolour\x1b[0m and a bell\x07")
            advance(PollOutcome("b", PollStatus.NOT_MODIFIED))
        log.info("after the bar")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)

    printed = CONTROL.sub("", screen.getvalue())
    [line] = [part for part in printed.split("\r") if "feed b:" in part]
    assert re.fullmatch(
        r"\S+ WARNING monitor\.test_progress: feed b: .*\n", line.split("\n")[0] + "\n"
    )
    assert "\x1b" not in line and "\x07" not in line  # article text cannot drive the terminal
    assert "2/2" in printed and "b: not modified" in printed
    assert "feed b" not in stream.getvalue()  # while the bar showed, the log went above it
    assert "after the bar" in stream.getvalue() and "after the bar" not in printed
