"""`monitor feeds` as a table: one line per feed on a terminal 100 columns wide, with the last
error; off a terminal, every value whole."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.cli.text import relative_time
from tests.feedserver import Document, FeedServer
from tests.test_cli import monitor
from tests.test_cli_progress import CONTROL, on_terminal
from tests.test_pipeline import rss

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


async def test_each_feed_is_one_line_at_100_columns(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    deep = "/" + "a-long-path-segment/" * 8 + "feed.xml"
    long_url = feed_server.serve(deep, Document.of(rss(("1", "One", "x"), ("2", "Two", "y"))))
    (tmp_path / "monitor.yaml").write_text(
        f"feeds:\n  - id: deep\n    url: {long_url}\n"
        "  - id: down\n    url: http://127.0.0.1:9/x.xml\n"
        f"  - id: gone\n    url: {feed_server.url('/not-served-here/' + 'x' * 60)}\n"
    )
    code, _, err = await monitor("once", cwd=tmp_path)
    assert code == 0, err

    code, _, screen = await on_terminal("feeds", cwd=tmp_path, streams=("stdout",))

    assert code == 0, screen
    lines = CONTROL.sub("", screen).replace("\r\n", "\n").splitlines()
    header, *rows = lines
    assert header.split() == [
        "id",
        "url",
        "last",
        "poll",
        "status",
        "errors",
        "articles",
        "next",
        "poll",
        "last",
        "error",
    ]
    assert [row.split()[0] for row in rows] == ["deep", "down", "gone"], lines
    assert all(len(line) <= 100 for line in lines), lines
    by_id = {row.split()[0]: row for row in rows}
    assert "…" in by_id["deep"].split()[1]  # the URL cut, not folded onto the next line
    assert re.search(r" (now|\d+s ago) +ok +0 +2 +in \d+m +- *$", by_id["deep"]), by_id["deep"]
    assert "connection refused" in by_id["down"]
    assert "HTTP 404" in by_id["gone"]


async def test_off_a_terminal_the_feeds_table_keeps_urls_and_errors_whole(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    gone = feed_server.url("/not-served-here/" + "x" * 150)
    (tmp_path / "monitor.yaml").write_text(f"feeds:\n  - id: gone\n    url: {gone}\n")
    code, _, err = await monitor("once", cwd=tmp_path)
    assert code == 1, err

    code, out, err = await monitor("feeds", cwd=tmp_path, env={"COLUMNS": "100"})

    assert code == 0, err
    [_, row] = out.splitlines()
    assert gone in row and "HTTP 404 Not Found" in row


@pytest.mark.parametrize(
    ("moment", "shown"),
    [
        (None, "-"),
        (NOW, "now"),
        (NOW - timedelta(seconds=42), "42s ago"),
        (NOW + timedelta(minutes=12, seconds=30), "in 12m"),
        (NOW - timedelta(hours=3, minutes=5), "3h05m ago"),
        (NOW - timedelta(days=2, hours=4, minutes=1), "2d4h ago"),
    ],
    ids=["never", "now", "seconds", "minutes", "hours", "days"],
)
def test_times_in_the_table_are_short(moment: datetime | None, shown: str) -> None:
    assert relative_time(moment, NOW) == shown
