"""`monitor once` shows progress on a terminal and stays plain when its output is not one."""

from __future__ import annotations

import asyncio
import os
import pty
from pathlib import Path

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
