"""Delivery as a user runs it: `monitor once` and `monitor run` (real subprocesses) sending to a
real webhook receiver; `alerts`, `deliveries`, `silence` and `notify-test`; a kill -9 in the
middle of a batch loses nothing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

from tests.feedserver import Document, FeedServer
from tests.test_cli import MONITOR, monitor
from tests.test_pipeline import rss
from tests.webhookreceiver import Reply, WebhookReceiver

RULES = """\
rules:
  - id: treaty
    description: Any treaty
    keywords: {any: [treaty]}
"""


def write_config(tmp_path: Path, feed_url: str, hook_url: str, *, backfill: int = 0) -> Path:
    (tmp_path / "rules.yaml").write_text(RULES)
    config = tmp_path / "monitor.yaml"
    config.write_text(
        f"feeds:\n  - id: wire\n    url: {feed_url}\n    backfill: {backfill}\n"
        "rules: [rules.yaml]\n"
        f"notifiers:\n  - id: hook\n    type: webhook\n    url: {hook_url}\n"
    )
    return config


def items(count: int, start: int = 0) -> list[tuple[str, str, str]]:
    return [
        (f"n{i}", f"Treaty news number {i}", "A treaty was discussed.")
        for i in range(start, start + count)
    ]


async def test_once_delivers_new_alerts_and_alerts_shows_their_state(
    tmp_path: Path, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    url = feed_server.serve("/wire.xml", Document.of(rss(*items(2))))
    write_config(tmp_path, url, receiver.url())
    code, out, err = await monitor("once", cwd=tmp_path)
    assert code == 0, err
    assert receiver.requests == []  # the first poll alerts on nothing

    feed_server.serve("/wire.xml", Document.of(rss(*items(3))))
    code, out, err = await monitor("once", cwd=tmp_path)
    assert code == 0, err
    assert "deliveries: 1 sent" in out

    [request] = receiver.requests
    payload = request.json()
    assert set(payload) == {"id", "detected_at", "rule", "article", "matches", "score"}
    assert payload["rule"] == {"id": "treaty", "description": "Any treaty"}
    assert payload["article"]["title"] == "Treaty news number 2"
    assert payload["article"]["feed"]["id"] == "wire"
    assert payload["matches"]["keywords"][0]["term"] == "treaty"
    code, out, err = await monitor("alerts", "--json", cwd=tmp_path)
    [alert] = json.loads(out)
    assert alert["id"] == payload["id"]
    assert alert["deliveries"][0] | {"sent_at": None} == {
        "notifier": "hook",
        "state": "sent",
        "attempts": 1,
        "last_error": None,
        "sent_at": None,
    }


async def test_dead_deliveries_are_listed_and_retried(
    tmp_path: Path, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    url = feed_server.serve("/wire.xml", Document.of(rss(*items(1))))
    write_config(tmp_path, url, receiver.url(), backfill=1)
    receiver.script(Reply(400, body=b"no such channel"))

    code, out, err = await monitor("once", cwd=tmp_path)
    assert code == 0, err
    assert "deliveries: 1 dead" in out
    code, out, err = await monitor("deliveries", "list", "--state", "dead", "--json", cwd=tmp_path)
    assert code == 0, err
    [dead] = json.loads(out)
    assert dead["notifier"] == "hook"
    assert "no such channel" in dead["last_error"]

    code, out, err = await monitor("deliveries", "retry", cwd=tmp_path)
    assert (code, out.strip()) == (0, "re-queued 1 dead delivery"), err
    code, out, err = await monitor("once", cwd=tmp_path)
    assert "deliveries: 1 sent" in out
    assert len(receiver.requests) == 2
    assert receiver.requests[0].webhook_id == receiver.requests[1].webhook_id


async def test_silence_add_list_end(tmp_path: Path, receiver: WebhookReceiver) -> None:
    write_config(tmp_path, "https://example.org/feed.xml", receiver.url())

    code, out, err = await monitor(
        "silence", "add", "treaty", "--for", "2h", "--reason", "known story", cwd=tmp_path
    )
    assert code == 0, err
    silence_id = out.split()[1].rstrip(":")
    code, out, err = await monitor("silence", "list", "--json", cwd=tmp_path)
    [listed] = json.loads(out)
    assert (listed["id"], listed["rule"], listed["reason"]) == (silence_id, "treaty", "known story")

    code, out, err = await monitor("silence", "end", silence_id, cwd=tmp_path)
    assert code == 0, err
    code, out, err = await monitor("silence", "list", "--json", cwd=tmp_path)
    assert json.loads(out) == []

    code, out, err = await monitor(
        "silence", "add", "treatise", "--for", "1h", "--reason", "x", cwd=tmp_path
    )
    assert code == 2
    assert 'unknown rule "treatise"' in err
    assert "treaty" in err  # did you mean


async def test_notify_test_shows_the_answer_or_the_failure(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    write_config(tmp_path, "https://example.org/feed.xml", receiver.url())

    code, out, err = await monitor("notify-test", "hook", cwd=tmp_path)
    assert (code, out.strip()) == (0, "hook: 200 OK"), err
    [request] = receiver.requests
    assert request.json()["rule"]["id"] == "notify-test"

    receiver.script(Reply(403, body=b"bad token"))
    code, out, err = await monitor("notify-test", "hook", cwd=tmp_path)
    assert code == 1
    assert "403" in err
    assert "bad token" in err

    code, out, err = await monitor("notify-test", "hooks", cwd=tmp_path)
    assert code == 2
    assert 'unknown notifier "hooks"' in err


async def test_kill_9_in_the_middle_of_a_batch_loses_no_alert(
    tmp_path: Path, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    total = 200
    url = feed_server.serve("/wire.xml", Document.of(rss(*items(total))))
    write_config(tmp_path, url, receiver.url(), backfill=total)
    answered = 60
    receiver.script(*[Reply(200)] * answered)
    receiver.default = Reply(200, hang=True)  # later requests hang: the batch is mid-way

    first = await _start_run(tmp_path)
    try:
        await receiver.wait_for(answered + 1, timeout=60)
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    receiver.default = Reply(200)
    receiver.release.set()

    second = await _start_run(tmp_path)
    try:
        await receiver.wait_until(lambda: len(_alert_ids(receiver)) >= total, timeout=60)
    finally:
        second.send_signal(signal.SIGTERM)
        await asyncio.wait_for(second.wait(), 30)

    ids = _alert_ids(receiver)
    assert len(ids) == total
    by_alert: dict[str, set[str | None]] = {}
    for request in receiver.requests:
        by_alert.setdefault(request.json()["id"], set()).add(request.webhook_id)
    assert all(len(webhook_ids) == 1 for webhook_ids in by_alert.values())  # duplicates share it
    code, out, err = await monitor("alerts", "--json", "--limit", "1000", cwd=tmp_path)
    assert code == 0, err
    states = [d["state"] for alert in json.loads(out) for d in alert["deliveries"]]
    assert states == ["sent"] * total


def _alert_ids(receiver: WebhookReceiver) -> set[str]:
    return {request.json()["id"] for request in receiver.requests}


async def _start_run(cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *MONITOR,
        "run",
        cwd=cwd,
        # A short lease: the killed run's claims are free again quickly.
        env={**os.environ, "MONITOR_LOG_LEVEL": "WARNING", "MONITOR_DELIVERY_LEASE": "2s"},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
