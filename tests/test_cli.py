"""The `monitor` command as a user runs it: real subprocesses, a real feed server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from tests.feedserver import Document, FeedServer
from tests.test_pipeline import rss

MONITOR = [sys.executable, "-m", "monitor"]


async def monitor(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *MONITOR,
        *args,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_check_prints_every_error_with_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text(
        "feeds:\n"
        "  - id: ok\n"
        "    url: https://example.org/feed.xml\n"
        "  - id: Bad Id\n"  # line 4
        "    url: https://example.org/b.xml\n"
        "  - id: slow\n"
        "    url: ftp://example.org/c.xml\n"  # line 7
        "    interval: 10x\n"  # line 8
        "rules: [missing-rules/]\n"  # line 9
        "notifiers:\n"
        "  - id: hook\n"
        "    type: webhook\n"
        "    url: ${HOOK_URL_THAT_IS_NOT_SET}\n"  # line 13
    )
    code, out, err = await monitor("check", "--config", str(config), cwd=tmp_path)
    assert code == 2, (out, err)
    lines = [line for line in err.splitlines() if line.startswith(str(config))]
    located = {int(line.split(":")[1]) for line in lines}
    assert {4, 7, 8, 9, 13} <= located, err
    assert "HOOK_URL_THAT_IS_NOT_SET" in err


async def test_check_accepts_the_embedded_default(tmp_path: Path) -> None:
    code, out, err = await monitor("check", cwd=tmp_path)
    assert code == 0, err
    assert "embedded default: ok" in out


async def test_once_then_feeds_json(tmp_path: Path, feed_server: FeedServer) -> None:
    url = feed_server.serve("/a.xml", Document.of(rss(("1", "One", "x"), ("2", "Two", "y"))))
    (tmp_path / "monitor.yaml").write_text(
        f"feeds:\n  - id: a\n    url: {url}\n  - id: down\n    url: http://127.0.0.1:9/x.xml\n"
        "notifiers:\n  - id: console\n    type: console\n"
    )
    code, out, err = await monitor("once", cwd=tmp_path)
    assert code == 0, err
    assert "polled 2 feeds" in out and "recorded 2 articles" in out
    assert "feed down" in out  # the failure is reported, not fatal

    code, out, err = await monitor("feeds", "--json", cwd=tmp_path)
    assert code == 0, err
    rows = {row["id"]: row for row in json.loads(out)}
    assert rows["a"]["articles"] == 2 and rows["a"]["status"] == "ok"
    assert rows["down"]["errors"] == 1 and rows["down"]["status"] == "error"
    assert set(rows["a"]) >= {"id", "url", "status", "articles", "errors", "last_poll", "next_poll"}

    code, out, err = await monitor("feeds", cwd=tmp_path)
    assert code == 0 and "a" in out and url in out


SECRET_FEEDS = {
    "basic": ("http://reader:PASSw0rd-1@127.0.0.1:9/a.xml", "PASSw0rd-1"),
    "token": ("http://127.0.0.1:9/b.xml?token=tok-2x9&q=news", "tok-2x9"),
    "apikey": ("http://127.0.0.1:9/c.xml?api_key=key-3y8", "key-3y8"),
    "code": ("http://127.0.0.1:9/d.xml?code=c0de-4z7", "c0de-4z7"),
    "path": ("http://127.0.0.1:9/f/AbCdEf0123456789GhIjKl/rss.xml", "AbCdEf0123456789GhIjKl"),
}


def write_secret_feeds(folder: Path) -> None:
    lines = ["feeds:"]
    for feed_id, (url, _) in SECRET_FEEDS.items():
        lines += [f"  - id: {feed_id}", f"    url: '{url}'"]
    lines += ["notifiers:", "  - id: console", "    type: console"]
    (folder / "monitor.yaml").write_text("\n".join(lines) + "\n")


async def test_feeds_and_feeds_json_show_no_url_secret(tmp_path: Path) -> None:
    write_secret_feeds(tmp_path)
    code, table_out, err = await monitor("feeds", cwd=tmp_path)
    assert code == 0, err
    code, json_out, err = await monitor("feeds", "--json", cwd=tmp_path)
    assert code == 0, err

    rows = {row["id"]: row["url"] for row in json.loads(json_out)}
    assert rows["token"] == "http://127.0.0.1:9/b.xml?token=***&q=news"
    assert rows["basic"] == "http://reader:***@127.0.0.1:9/a.xml"
    for _, secret in SECRET_FEEDS.values():
        assert secret not in table_out and secret not in json_out
    assert "127.0.0.1:9/b.xml?token=***&q=news" in table_out


async def test_run_stops_cleanly_on_sigterm(tmp_path: Path, feed_server: FeedServer) -> None:
    url = feed_server.serve("/a.xml", Document.of(rss(("1", "One", "x"))))
    (tmp_path / "monitor.yaml").write_text(
        f"feeds:\n  - id: a\n    url: {url}\nnotifiers:\n  - id: console\n    type: console\n"
    )
    process = await asyncio.create_subprocess_exec(
        *MONITOR,
        "run",
        cwd=tmp_path,
        env={**os.environ, "MONITOR_LOG_FORMAT": "json"},
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    try:
        await feed_server.wait_for_hits("/a.xml")
        process.send_signal(signal.SIGTERM)
        output = await asyncio.wait_for(process.stderr.read(), 30)
        code = await asyncio.wait_for(process.wait(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert code == 0
    seen = [json.loads(line) for line in output.decode().splitlines()]
    messages = [str(entry["message"]) for entry in seen]
    assert any("shutting down" in m for m in messages)
    assert messages[-1] == "monitor stopped"
