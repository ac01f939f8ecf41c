"""The outbox and the delivery worker, on real stores, a real webhook receiver and a real SMTP
server: deliveries written with their alerts, retries, dead letters, digests, realert, rate caps,
silences and ops notices."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor.config import FeedConfig
from monitor.models import (
    Article,
    DeliveryState,
    FeedStateUpdate,
    FeedStatus,
    OutboxPlan,
    RuleMatch,
    TermHit,
)
from monitor.notify import (
    DeliveryLimits,
    DeliveryWorker,
    digest_trigger,
    gather_digest,
    gather_overflow,
    human_duration,
)
from monitor.notify.base import DeliveryPolicy, EmailOptions, Notifier, WebhookOptions
from monitor.notify.email import EmailNotifier, SmtpSettings
from monitor.notify.webhook import WebhookNotifier, create_webhook_client
from monitor.store import Store
from tests.conftest import StoreFactory
from tests.smtpserver import SmtpServer
from tests.webhookreceiver import Reply, WebhookReceiver

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
FEED = FeedConfig("wire", "http://127.0.0.1:9/feed.xml")


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Setup:
    store: Store
    clock: Clock
    receiver: WebhookReceiver
    client: httpx.AsyncClient
    counter: list[int] = field(default_factory=lambda: [0])

    def webhook(self, notifier_id: str = "hook", **options: Any) -> WebhookNotifier:
        settings = WebhookOptions(url=self.receiver.url(f"/{notifier_id}"), timeout=5, **options)
        return WebhookNotifier(notifier_id, settings, self.client)

    def worker(
        self,
        notifiers: Sequence[Notifier],
        policies: dict[str, DeliveryPolicy] | None = None,
        limits: DeliveryLimits | None = None,
    ) -> DeliveryWorker:
        return DeliveryWorker(
            self.store,
            {n.id: n for n in notifiers},
            policies=policies,
            rule_descriptions={"peace": "Peace talks"},
            limits=limits,
            clock=self.clock,
        )

    async def alerts(
        self,
        count: int,
        plan: OutboxPlan,
        *,
        rule: str = "peace",
        title: str | None = None,
    ) -> list[str]:
        """Record `count` new articles that each match `rule`; returns the alert ids."""
        articles = []
        for _ in range(count):
            self.counter[0] += 1
            n = self.counter[0]
            articles.append(
                Article(
                    feed_id=FEED.id,
                    key=f"item-{n}",
                    url=f"https://news.example/{n}",
                    link=f"https://news.example/{n}",
                    title=title or f"Peace treaty talks, part {n}",
                    summary="Talks on a peace treaty went on.",
                    content="",
                    summary_text="Talks on a peace treaty went on.",
                    content_text="",
                )
            )
        match = RuleMatch(rule, (TermHit("peace treaty", "title", "Peace treaty talks"),), (), 2.0)
        update = FeedStateUpdate(
            polled_at=self.clock.now,
            next_poll_at=self.clock.now + timedelta(minutes=10),
            status=FeedStatus.OK,
        )
        result = await self.store.record_poll(
            FEED.id,
            update,
            articles,
            matches={a.key: [match] for a in articles},
            plan=plan,
        )
        return [alert.id for alert in result.alerts]


@pytest.fixture
async def setup(database_url: str, make_store: StoreFactory) -> AsyncIterator[Setup]:
    store = await make_store(database_url)
    await store.sync_feeds([FEED], now=T0)
    # The feed has been read once before: its new articles are alerts.
    first = FeedStateUpdate(polled_at=T0, next_poll_at=T0, status=FeedStatus.OK)
    await store.record_poll(FEED.id, first)
    client = create_webhook_client("feed-monitor-tests")
    async with WebhookReceiver() as receiver:
        yield Setup(store, Clock(), receiver, client)
    await client.aclose()


def plan_for(*notifiers: str, held: Sequence[str] = (), **extra: Any) -> OutboxPlan:
    return OutboxPlan(routes={"peace": tuple(notifiers)}, held=frozenset(held), **extra)


async def run_until_quiet(
    worker: DeliveryWorker, store: Store, clock: Clock, step: timedelta
) -> None:
    """Deliver, moving the clock on by `step` whenever nothing is due, until nothing pends."""
    for _ in range(50):
        await worker.deliver_due()
        counts = await store.count_deliveries()
        if not counts.get("pending"):
            return
        clock.advance(step)
    raise AssertionError("deliveries still pending after 50 rounds")


# ---- the outbox is written with the alert ----------------------------------------------------
async def test_each_alert_gets_one_delivery_per_notifier_in_its_transaction(setup: Setup) -> None:
    alert_ids = await setup.alerts(3, plan_for("hook", "mail"))

    assert len(alert_ids) == 3
    assert await setup.store.count_deliveries() == {"pending": 6}
    states = await setup.store.delivery_statuses(alert_ids)
    assert {s.notifier for s in states[alert_ids[0]]} == {"hook", "mail"}


async def test_a_rule_without_notifiers_writes_no_delivery(setup: Setup) -> None:
    await setup.alerts(2, OutboxPlan(routes={"peace": ()}))

    assert await setup.store.count_deliveries() == {}


# ---- sending, retrying, giving up ------------------------------------------------------------
async def test_500_five_times_then_200_is_one_delivery_sent_after_six_attempts(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    [alert_id] = await setup.alerts(1, plan_for("hook"))
    setup.receiver.script(*[Reply(500, body=b"busy")] * 5)
    worker = setup.worker([setup.webhook()])

    with caplog.at_level(logging.WARNING, logger="monitor.notify.worker"):
        await run_until_quiet(worker, setup.store, setup.clock, timedelta(hours=1))

    requests = setup.receiver.requests
    assert len(requests) == 6
    assert len({r.webhook_id for r in requests}) == 1  # the same id on every retry
    assert all(r.json()["id"] == alert_id for r in requests)
    [status] = (await setup.store.delivery_statuses([alert_id]))[alert_id]
    assert (status.state, status.attempts) == (DeliveryState.SENT, 6)
    retries = [r for r in caplog.records if "failed (attempt" in r.getMessage()]
    assert [f"attempt {n})" in r.getMessage() for n, r in enumerate(retries, 1)] == [True] * 5


async def test_a_retry_waits_for_the_backoff(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    await setup.alerts(1, plan_for("hook"))
    setup.receiver.script(503)
    worker = setup.worker([setup.webhook()])

    with caplog.at_level(logging.WARNING, logger="monitor.notify.worker"):
        await worker.deliver_due()
        await worker.deliver_due()  # not due yet: nothing is sent

    assert len(setup.receiver.requests) == 1
    due = await setup.store.next_delivery_at()
    assert due is not None
    assert timedelta(seconds=5) <= due - T0 <= timedelta(seconds=10)
    [logged] = [r.getMessage() for r in caplog.records if "failed (attempt 1)" in r.getMessage()]
    assert f"failed (attempt 1), retry in {human_duration(due - T0)}: " in logged
    assert re.search(r"retry in \d+(\.\d)?s: ", logged), logged  # 5.9s, not 0:00:05.869489s


async def test_retry_after_is_honoured(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    await setup.alerts(1, plan_for("hook"))
    setup.receiver.script(Reply(429, {"Retry-After": "130"}))
    worker = setup.worker([setup.webhook()])

    with caplog.at_level(logging.WARNING, logger="monitor.notify.worker"):
        await worker.deliver_due()

    assert await setup.store.next_delivery_at() == T0 + timedelta(seconds=130)
    assert any("retry in 2m10s: " in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("delay", "shown"),
    [
        (timedelta(seconds=5.869489), "5.9s"),
        (timedelta(seconds=0), "0.0s"),
        (timedelta(seconds=9.96), "10s"),
        (timedelta(seconds=42.4), "42s"),
        (timedelta(seconds=59.6), "1m00s"),
        (timedelta(minutes=2, seconds=10), "2m10s"),
        (timedelta(hours=1, minutes=5), "1h05m"),
    ],
    ids=["seconds", "zero", "ten", "tens", "a-minute", "minutes", "hours"],
)
def test_a_retry_wait_is_logged_as_a_person_reads_it(delay: timedelta, shown: str) -> None:
    assert human_duration(delay) == shown


async def test_a_400_is_dead_at_once_with_the_reason(setup: Setup) -> None:
    [alert_id] = await setup.alerts(1, plan_for("hook"))
    setup.receiver.script(Reply(400, body=b'{"error": "unknown channel"}'))
    worker = setup.worker([setup.webhook()])

    await worker.deliver_due()
    setup.clock.advance(timedelta(days=1))
    await worker.deliver_due()

    assert len(setup.receiver.requests) == 1
    [status] = (await setup.store.delivery_statuses([alert_id]))[alert_id]
    assert status.state is DeliveryState.DEAD
    assert status.last_error is not None
    assert "400" in status.last_error
    assert "unknown channel" in status.last_error


async def test_dead_after_max_attempts_then_retry_requeues(setup: Setup) -> None:
    [alert_id] = await setup.alerts(1, plan_for("hook"))
    setup.receiver.script(500, 500, 500)
    worker = setup.worker([setup.webhook()], limits=DeliveryLimits(max_attempts=3))

    await run_until_quiet(worker, setup.store, setup.clock, timedelta(hours=1))
    [status] = (await setup.store.delivery_statuses([alert_id]))[alert_id]
    assert (status.state, status.attempts) == (DeliveryState.DEAD, 3)
    assert status.last_error is not None
    assert status.last_error.startswith("gave up after 3 attempts")

    assert await setup.store.retry_dead(now=setup.clock.now) == 1
    await worker.deliver_due()
    [status] = (await setup.store.delivery_statuses([alert_id]))[alert_id]
    assert status.state is DeliveryState.SENT
    assert len(setup.receiver.requests) == 4


async def test_dead_when_too_old(setup: Setup) -> None:
    [alert_id] = await setup.alerts(1, plan_for("hook"))
    setup.receiver.script(500)
    worker = setup.worker([setup.webhook()], limits=DeliveryLimits(max_age=timedelta(hours=2)))

    await worker.deliver_due()
    setup.clock.advance(timedelta(hours=3))
    setup.receiver.script(500)
    await worker.deliver_due()

    [status] = (await setup.store.delivery_statuses([alert_id]))[alert_id]
    assert status.state is DeliveryState.DEAD


async def test_a_removed_notifier_makes_its_deliveries_dead(setup: Setup) -> None:
    [alert_id] = await setup.alerts(1, plan_for("gone"))
    worker = setup.worker([setup.webhook()])

    await worker.deliver_due()

    [status] = (await setup.store.delivery_statuses([alert_id]))[alert_id]
    assert status.state is DeliveryState.DEAD
    assert status.last_error == 'notifier "gone" is not in the configuration'


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_smtp_down_loses_nothing_and_sends_once_it_is_back(setup: Setup) -> None:
    alert_ids = await setup.alerts(3, plan_for("mail"))
    server = SmtpServer()
    await server.start()
    port = server.port
    await server.stop()
    smtp = SmtpSettings("127.0.0.1", port, "none", "monitor@example.org", timeout=5)
    notifier = EmailNotifier("mail", EmailOptions(to=("desk@example.org",)), smtp)
    worker = setup.worker([notifier])

    for _ in range(3):  # down for the whole of these rounds
        await worker.deliver_due()
        setup.clock.advance(timedelta(hours=1))
    assert await setup.store.count_deliveries() == {"pending": 3}

    revived = SmtpServer(port=port)
    async with revived:
        await run_until_quiet(worker, setup.store, setup.clock, timedelta(hours=1))
        received = await revived.wait_for(3)

    assert await setup.store.count_deliveries() == {"sent": 3}
    assert len(received) == 3
    subjects = sorted(str(r.message["Subject"]) for r in received)
    assert all("peace" in subject for subject in subjects)
    states = await setup.store.delivery_statuses(alert_ids)
    assert all(s[0].attempts == 4 for s in states.values())


# ---- digests, realert, rate caps, silences ---------------------------------------------------
async def test_a_cron_digest_gathers_held_alerts_into_one_message(setup: Setup) -> None:
    policy = DeliveryPolicy(mode="digest", cron="0 8 * * *")
    trigger = digest_trigger(policy)
    assert trigger is not None
    fire = trigger.get_next_fire_time(None, T0)
    assert fire == datetime(2026, 11, 27, 8, 0, tzinfo=UTC)

    await setup.alerts(3, plan_for("daily", held=["daily"]))
    await setup.alerts(2, plan_for("daily", held=["daily"]), rule="peace")
    assert await setup.store.count_deliveries() == {"held": 5}
    worker = setup.worker([setup.webhook("daily")], policies={"daily": policy})
    await worker.deliver_due()
    assert setup.receiver.requests == []  # held until the digest fires

    assert await gather_digest(setup.store, "daily", now=fire) == 5
    setup.clock.now = fire
    await worker.deliver_due()

    [request] = setup.receiver.requests
    digest = request.json()
    assert digest["type"] == "digest"
    assert len(digest["alerts"]) == 5
    assert request.webhook_id == digest["id"]
    assert await setup.store.count_deliveries() == {"sent": 5}
    assert await gather_digest(setup.store, "daily", now=fire + timedelta(days=1)) == 0
    await worker.deliver_due()
    assert len(setup.receiver.requests) == 1  # an empty digest sends nothing


async def test_realert_suppresses_the_same_story_within_its_window(setup: Setup) -> None:
    plan = plan_for("hook", realert={"peace": timedelta(hours=2)})
    [first] = await setup.alerts(1, plan, title="Ceasefire agreed in the Caucasus")
    setup.clock.advance(timedelta(minutes=30))
    [repeat] = await setup.alerts(1, plan, title="CEASEFIRE agreed in the Caucasus!")
    [other] = await setup.alerts(1, plan, title="A different story entirely")
    setup.clock.advance(timedelta(hours=3))
    [later] = await setup.alerts(1, plan, title="Ceasefire agreed in the Caucasus")

    states = await setup.store.delivery_statuses([first, repeat, other, later])
    assert states[first][0].state is DeliveryState.PENDING
    assert states[repeat][0].state is DeliveryState.SUPPRESSED
    assert (states[repeat][0].last_error or "").startswith("realert:")
    assert states[other][0].state is DeliveryState.PENDING
    assert states[later][0].state is DeliveryState.PENDING


async def test_max_per_hour_folds_the_overflow_into_one_summary(setup: Setup) -> None:
    policy = DeliveryPolicy(max_per_hour=3)
    await setup.alerts(10, plan_for("hook"))
    worker = setup.worker([setup.webhook()], policies={"hook": policy})

    await worker.deliver_due()
    assert len(setup.receiver.requests) == 3
    assert await setup.store.count_deliveries() == {"sent": 3, "held": 7}

    policies = {"hook": policy}
    assert await gather_overflow(setup.store, policies, now=setup.clock.now) == 0  # too soon
    setup.clock.advance(timedelta(hours=1, minutes=1))
    assert await gather_overflow(setup.store, policies, now=setup.clock.now) == 7
    await worker.deliver_due()

    assert len(setup.receiver.requests) == 4
    summary = setup.receiver.requests[-1].json()
    assert summary["type"] == "digest"
    assert len(summary["alerts"]) == 7
    assert await setup.store.count_deliveries() == {"sent": 10}


async def test_a_silence_suppresses_its_rule_until_it_ends(setup: Setup) -> None:
    silence = await setup.store.add_silence(
        "peace", now=setup.clock.now, duration=timedelta(hours=2), reason="known story"
    )
    [quiet] = await setup.alerts(1, plan_for("hook"))
    assert [s.id for s in await setup.store.list_silences(now=setup.clock.now)] == [silence.id]

    setup.clock.advance(timedelta(hours=2, seconds=1))
    [loud] = await setup.alerts(1, plan_for("hook"))
    assert await setup.store.list_silences(now=setup.clock.now) == []

    states = await setup.store.delivery_statuses([quiet, loud])
    assert states[quiet][0].state is DeliveryState.SUPPRESSED
    assert "known story" in (states[quiet][0].last_error or "")
    assert states[loud][0].state is DeliveryState.PENDING


async def test_ending_a_silence_early(setup: Setup) -> None:
    silence = await setup.store.add_silence(
        "peace", now=setup.clock.now, duration=timedelta(days=1), reason="noise"
    )
    assert await setup.store.end_silence(silence.id, now=setup.clock.now)
    assert not await setup.store.end_silence(silence.id, now=setup.clock.now)
    [alert] = await setup.alerts(1, plan_for("hook"))

    states = await setup.store.delivery_statuses([alert])
    assert states[alert][0].state is DeliveryState.PENDING


# ---- ops notices -----------------------------------------------------------------------------
async def test_a_feed_turning_unhealthy_and_recovering_sends_one_notice_each(
    setup: Setup,
) -> None:
    plan = OutboxPlan(ops=("hook",))
    worker = setup.worker([setup.webhook()])

    async def poll(status: FeedStatus, error: str | None) -> None:
        update = FeedStateUpdate(
            polled_at=setup.clock.now,
            next_poll_at=setup.clock.now,
            status=status,
            error=error,
        )
        await setup.store.record_poll(FEED.id, update, plan=plan)
        setup.clock.advance(timedelta(minutes=10))

    await poll(FeedStatus.ERROR, "HTTP 503")
    await poll(FeedStatus.ERROR, "HTTP 503")
    await poll(FeedStatus.UNHEALTHY, "HTTP 503")
    await poll(FeedStatus.UNHEALTHY, "HTTP 503")  # still down: no second notice
    await poll(FeedStatus.OK, None)
    await poll(FeedStatus.OK, None)
    await worker.deliver_due()

    notices = [r.json() for r in setup.receiver.requests]
    assert [n["type"] for n in notices] == ["feed_down", "feed_recovered"]
    assert notices[0]["feed"]["id"] == FEED.id
    assert notices[0]["failures"] == 3
    assert notices[0]["error"] == "HTTP 503"


async def test_the_file_notifier_appends_one_json_payload_per_line(
    setup: Setup, tmp_path: Path
) -> None:
    from monitor.notify.base import FileOptions
    from monitor.notify.file import FileNotifier

    path = tmp_path / "out" / "alerts.jsonl"
    path.parent.mkdir()  # the notifier makes no folder: check requires it to exist
    alert_ids = await setup.alerts(3, plan_for("file"))
    worker = setup.worker([FileNotifier("file", FileOptions(path))])

    await worker.deliver_due()

    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == alert_ids
    assert lines[0]["rule"] == {"id": "peace", "description": "Peace talks"}
    assert await setup.store.count_deliveries() == {"sent": 3}


@pytest.mark.parametrize(
    ("expression", "fires"),
    [
        # From Friday 2026-11-27 09:00 UTC: cron's weekdays, 0 and 7 being Sunday.
        ("0 8 * * 1-5", ["Mon 30 08:00", "Tue 01 08:00", "Wed 02 08:00"]),
        ("30 6 * * 0", ["Sun 29 06:30", "Sun 06 06:30", "Sun 13 06:30"]),
        ("0 18 * * 7", ["Sun 29 18:00", "Sun 06 18:00", "Sun 13 18:00"]),
        ("0 8 * * mon,wed", ["Mon 30 08:00", "Wed 02 08:00", "Mon 07 08:00"]),
        ("0 */12 * * *", ["Fri 27 12:00", "Sat 28 00:00", "Sat 28 12:00"]),
    ],
)
def test_digest_cron_expressions_read_weekdays_as_cron_does(
    expression: str, fires: list[str]
) -> None:
    trigger = digest_trigger(DeliveryPolicy(mode="digest", cron=expression))
    assert trigger is not None
    found, moment = [], datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    for _ in fires:
        moment = trigger.get_next_fire_time(None, moment + timedelta(seconds=1))
        found.append(moment.strftime("%a %d %H:%M"))
    assert found == fires


def test_an_every_digest_fires_at_that_interval() -> None:
    trigger = digest_trigger(DeliveryPolicy(mode="digest", every=timedelta(hours=6)))
    assert trigger is not None
    assert digest_trigger(DeliveryPolicy()) is None
    first = trigger.get_next_fire_time(None, T0)
    assert trigger.get_next_fire_time(first, first) == first + timedelta(hours=6)


async def test_replicas_firing_one_digest_together_send_one_digest(
    setup: Setup, database_url: str, make_store: StoreFactory
) -> None:
    await setup.alerts(5, plan_for("daily", held=["daily"]))
    others = [await make_store(database_url) for _ in range(2)]  # two more replicas

    gathered = await asyncio.gather(
        *(gather_digest(store, "daily", now=setup.clock.now) for store in [setup.store, *others])
    )

    assert sorted(gathered) == [0, 0, 5]
    assert await setup.store.count_deliveries() == {"pending": 5}
