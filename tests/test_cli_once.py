"""`monitor once` as a user reads it: the summary counts this run only, in plain words, says why
a first poll brings nothing new, names each failed feed, and exits 1 when every feed failed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from monitor.cli.once import summary_lines
from monitor.models import PollStatus
from monitor.service import PollTally
from tests.feedserver import Document, FeedServer
from tests.test_cli import monitor
from tests.test_delivery_cli import items, write_config
from tests.test_pipeline import rss
from tests.webhookreceiver import WebhookReceiver


async def test_deliveries_are_this_runs_not_the_outboxs(
    tmp_path: Path, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    url = feed_server.serve("/wire.xml", Document.of(rss(*items(2))))
    write_config(tmp_path, url, receiver.url(), backfill=2)
    code, out, err = await monitor("once", cwd=tmp_path)
    assert code == 0, err
    assert "deliveries: 2 sent" in out.splitlines()

    feed_server.serve("/wire.xml", Document.of(rss(*items(3))))
    code, out, err = await monitor("once", cwd=tmp_path)
    assert code == 0, err
    assert "deliveries: 1 sent" in out.splitlines()  # the outbox holds 3 sent
    assert len(receiver.requests) == 3

    code, out, err = await monitor("once", cwd=tmp_path)  # nothing new: no deliveries line
    assert code == 0, err
    assert not [line for line in out.splitlines() if line.startswith("deliveries")], out


async def test_the_summary_is_plain_words_and_explains_a_first_poll(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    url = feed_server.serve("/a.xml", Document.of(rss(("1", "A", "a"), ("2", "B", "b"))))
    (tmp_path / "monitor.yaml").write_text(f"feeds:\n  - id: a\n    url: {url}\n")

    code, out, err = await monitor("once", cwd=tmp_path)
    assert code == 0, err
    assert out.splitlines() == [
        "polled 1 feed (1 ok)",
        "recorded 2 articles, 0 new, 0 alerts",
        "first poll of 1 feed: its 2 existing articles recorded, not alerted "
        "(`backfill: N` on a feed alerts on its newest N)",
    ]

    code, out, err = await monitor("once", cwd=tmp_path)  # answered 304
    assert code == 0, err
    assert out.splitlines() == [
        "polled 1 feed (1 not modified)",
        "recorded 0 articles, 0 new, 0 alerts",
    ]


async def test_every_feed_failing_exits_1_and_names_each_with_its_error(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    page = feed_server.url("/gone?token=s3cr3t-value")  # not served: 404
    (tmp_path / "monitor.yaml").write_text(
        f"feeds:\n  - id: page\n    url: '{page}'\n"
        "  - id: down\n    url: http://127.0.0.1:9/x.xml\n"
    )

    code, out, err = await monitor("once", cwd=tmp_path)

    assert code == 1, (out, err)
    lines = out.splitlines()
    assert lines[0] == "polled 2 feeds (2 failed)"
    failed = sorted(line for line in lines if line.startswith("failed: "))
    assert failed[0].startswith("failed: feed down (http://127.0.0.1:9/x.xml): connection refused")
    assert (
        failed[1] == f"failed: feed page ({feed_server.url('/gone?token=***')}): HTTP 404 Not Found"
    )
    assert "s3cr3t" not in out + err


async def test_one_feed_working_is_enough_to_exit_0(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    url = feed_server.serve("/a.xml", Document.of(rss(("1", "A", "a"))))
    (tmp_path / "monitor.yaml").write_text(
        f"feeds:\n  - id: a\n    url: {url}\n  - id: down\n    url: http://127.0.0.1:9/x.xml\n"
    )

    code, out, err = await monitor("once", cwd=tmp_path)

    assert code == 0, err
    assert out.splitlines()[0] == "polled 2 feeds (1 ok, 1 failed)"


def test_the_summary_of_a_backfill_and_of_each_delivery_state() -> None:
    tally = PollTally(
        outcomes=Counter({PollStatus.NEW_ITEMS: 2, PollStatus.UNCHANGED: 1}),
        recorded=41,
        new=3,
        alerts=1,
        deliveries={"dead": 1, "sent": 2, "pending": 1, "held": 1, "suppressed": 1},
        first_polls=2,
        first_recorded=40,
        backfilled=2,
    )

    assert summary_lines(tally) == [
        "polled 3 feeds (2 ok, 1 unchanged)",
        "recorded 41 articles, 3 new, 1 alert",
        "first poll of 2 feeds: their 40 existing articles recorded; "
        "the newest 2 (backfill) matched as new",
        "deliveries: 2 sent, 1 to retry later, 1 held (a digest, or over max_per_hour), "
        "1 suppressed (silenced, or a repeat within realert), "
        "1 dead (monitor deliveries list --state dead)",
    ]
