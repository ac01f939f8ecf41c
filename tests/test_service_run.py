"""`monitor run` as a service: the status server, metrics, hot reload, graceful shutdown and
JSON logs, each on a real subprocess with a temp config."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import fresh_postgres_database
from tests.daemon import Daemon
from tests.feedserver import Document, FeedServer, InFlight, held
from tests.test_cli import monitor
from tests.test_pipeline import rss
from tests.webhookreceiver import Reply, WebhookReceiver

RULES = "rules:\n  - id: treaty\n    keywords: {any: [treaty]}\n"


def write_config(folder: Path, feeds: dict[str, str], notifiers: str = "") -> Path:
    lines = ["feeds:"]
    for feed_id, url in feeds.items():
        lines += [f"  - id: {feed_id}", f"    url: {url}", "    interval: 1h", "    backfill: 5"]
    lines += ["rules: [rules.yaml]", "notifiers:"]
    lines += [notifiers or "  - id: screen\n    type: console"]
    (folder / "rules.yaml").write_text(RULES)
    path = folder / "monitor.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def items(count: int) -> list[tuple[str, str, str]]:
    return [(f"n{i}", f"Treaty talks {i}", "about a treaty") for i in range(count)]


async def test_health_readiness_metrics_and_api(tmp_path: Path, feed_server: FeedServer) -> None:
    url = feed_server.serve("/wire.xml", Document.of(rss(*items(3))))
    write_config(tmp_path, {"wire": url})

    async with await Daemon.start(tmp_path) as daemon:
        await daemon.wait_for_log(r"1 new alerts?|alert: treaty", count=3)
        health = await daemon.get("/healthz")
        assert (health.status_code, health.text) == (200, "ok\n")
        ready = await daemon.json("/readyz")
        checks = {"config": True, "scheduler": True, "store": True}
        assert ready == {"ready": True, "checks": checks}

        metrics = await daemon.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        values = samples(metrics.text)
        assert values[("monitor_polls_total", (("outcome", "ok"),))] == 1
        assert values[("monitor_articles_total", (("kind", "new"),))] == 3
        assert values[("monitor_alerts_total", (("rule", "treaty"),))] == 3
        assert values[("monitor_matches_total", (("rule", "treaty"),))] == 3
        assert values[("monitor_feeds", (("status", "ok"),))] == 1
        assert values[("monitor_feeds_unhealthy", ())] == 0
        assert values[("monitor_poll_duration_seconds_count", ())] == 1
        assert values[("monitor_parse_duration_seconds_count", ())] == 1
        assert ("monitor_build_info", (("version", "0.1.0"),)) in values
        sent = values.get(("monitor_deliveries_total", (("notifier", "screen"), ("state", "sent"))))
        outbox = values[("monitor_outbox_pending", ())]
        assert (sent or 0) + outbox == 3

        feeds = await daemon.json("/api/feeds")
        assert [(f["id"], f["status"], f["articles"]) for f in feeds] == [("wire", "ok", 3)]
        alerts = await daemon.json("/api/alerts?rule=treaty&since=1d")
        assert len(alerts) == 3
        assert {a["rule"] for a in alerts} == {"treaty"}
        bad = await daemon.get("/api/alerts?since=soon")
        assert bad.status_code == 400

    assert daemon.process.returncode == 0


async def test_a_valid_reload_polls_the_new_feed_and_a_broken_one_keeps_running(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    first = feed_server.serve("/first.xml", Document.of(rss(*items(1))))
    second = feed_server.serve("/second.xml", Document.of(rss(*items(2))))
    config = write_config(tmp_path, {"first": first})

    async with await Daemon.start(tmp_path) as daemon:
        await feed_server.wait_for_hits("/first.xml")
        write_config(tmp_path, {"first": first, "second": second})  # the file watcher sees it
        await daemon.wait_for_log("configuration reloaded: 2 feeds")
        await feed_server.wait_for_hits("/second.xml")

        config.write_text(config.read_text() + "  - id: Bad Id\n    type: pager\n")
        line = await daemon.wait_for_log("reload refused")
        assert "monitor.yaml:14: notifiers[1].id" in line  # file:line of the error
        await daemon.wait_for_log("keeping the running configuration")
        values = samples((await daemon.get("/metrics")).text)
        assert values[("monitor_config_reload_failures_total", ())] == 1
        assert values[("monitor_config_reloads_total", ())] == 2  # the start, and one reload
        assert (await daemon.get("/readyz")).status_code == 200

        write_config(tmp_path, {"second": second})
        daemon.signal(signal.SIGHUP)
        await daemon.wait_for_log(r"configuration reloaded: 1 feeds .*1 removed")
        statuses: dict[str, str] = {}
        async with asyncio.timeout(10):  # the second feed's poll is recorded just after its fetch
            while statuses != {"first": "disabled", "second": "ok"}:
                feeds = await daemon.json("/api/feeds")
                statuses = {f["id"]: f["status"] for f in feeds}
                if statuses != {"first": "disabled", "second": "ok"}:
                    await asyncio.sleep(0.1)

    assert daemon.process.returncode == 0


async def test_sigterm_during_a_slow_poll_finishes_it_and_exits_0(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    in_flight = InFlight()
    body = rss(*items(2))
    url = feed_server.serve("/slow.xml", Document.of(body))
    feed_server.script("/slow.xml", held(feed_server, in_flight, body))
    write_config(tmp_path, {"slow": url})

    daemon = await Daemon.start(tmp_path, {"MONITOR_SHUTDOWN_GRACE": "20"})
    await in_flight.wait_until(1)
    daemon.signal(signal.SIGTERM)
    await daemon.wait_for_log("finishing 1 in flight")
    feed_server.release.set()  # the poll completes during the grace period
    started = time.monotonic()
    code = await daemon.stop(timeout=20, signal_it=False)

    assert code == 0
    assert time.monotonic() - started < 20
    assert any("alert: treaty" in line for line in daemon.lines), daemon.lines  # recorded


async def test_a_poll_slower_than_the_grace_period_is_cancelled_and_it_still_exits_0(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    in_flight = InFlight()
    url = feed_server.serve("/stuck.xml", Document.of(rss(*items(1))))
    feed_server.script("/stuck.xml", held(feed_server, in_flight))
    write_config(tmp_path, {"stuck": url})

    daemon = await Daemon.start(tmp_path, {"MONITOR_SHUTDOWN_GRACE": "1"})
    await in_flight.wait_until(1)
    started = time.monotonic()
    code = await daemon.stop(timeout=15)

    assert code == 0
    assert time.monotonic() - started < 10
    assert any("cancelled 1 polls still running" in line for line in daemon.lines)
    feed_server.release.set()


async def test_json_logs_parse_line_by_line_and_hold_no_secret(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    token, secret, password = "T0KENabc123", "whsec_c2VjcmV0LXNpZ25pbmcta2V5", "pw-s3cr3t-77"
    url = feed_server.serve("/wire.xml", Document.of(rss(*items(2))))
    async with WebhookReceiver() as receiver, fresh_postgres_database() as database:
        receiver.script(Reply(500, body=f"no route for /hook/{token}".encode()))
        hook = receiver.url(f"/hook/{token}?token={token}")
        notifiers = (
            f"  - id: hook\n    type: webhook\n    url: {hook}\n    secret: {secret}\n"
            "  - id: desk\n    type: email\n    to: [desk@example.org]"
        )
        write_config(tmp_path, {"wire": url}, notifiers)
        with_password = database.replace("postgres@", f"postgres:{password}@")
        env = {
            "MONITOR_LOG_FORMAT": "json",
            "MONITOR_LOG_LEVEL": "DEBUG",
            "MONITOR_DATABASE_URL": with_password,
            "MONITOR_SMTP_HOST": "127.0.0.1",
            "MONITOR_SMTP_PORT": "9",  # nothing listens: the email fails too
            "MONITOR_SMTP_SECURITY": "none",
            "MONITOR_SMTP_FROM": "monitor@example.org",
            "MONITOR_SMTP_USERNAME": "monitor",
            "MONITOR_SMTP_PASSWORD": password,
        }
        async with await Daemon.start(tmp_path, env) as daemon:
            await receiver.wait_for(2)  # two alerts: one answered 500, one 200
            await daemon.wait_for_log(r"delivery .* to hook failed")
            await daemon.wait_for_log(r"delivery .* to desk failed")

    records = [json.loads(line) for line in daemon.lines if line.strip()]
    assert records
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any(r.get("feed_id") == "wire" for r in records)
    assert any(r.get("delivery_id") and r.get("notifier_id") == "hook" for r in records)
    text = "\n".join(daemon.lines)
    for leaked in (token, secret, password, secret.removeprefix("whsec_")):
        assert leaked not in text


async def test_a_second_daemon_on_one_sqlite_file_is_refused(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    write_config(tmp_path, {"wire": feed_server.serve("/w.xml", Document.of(rss(*items(1))))})

    async with await Daemon.start(tmp_path):
        code, _, err = await monitor("once", cwd=tmp_path)
        assert code == 1
        assert "is in use by another monitor daemon (pid " in err
        assert "PostgreSQL" in err
        code, _, err = await monitor("alerts", cwd=tmp_path)  # reading is fine
        assert code == 0, err

    code, out, err = await monitor("once", cwd=tmp_path)  # free again once it stopped
    assert (code, out.splitlines()[0]) == (0, "polled 1 feed (1 not modified)"), err
