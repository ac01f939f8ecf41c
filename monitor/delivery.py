"""Delivery wired from the configuration: the notifiers, the outbox plan, the worker and the
periodic jobs (digests by `every`/`cron`, the rate cap's overflow summaries, silence cleanup).

Each notifier type's module (and its libraries: aiohttp, jinja2, aiosmtplib), the webhooks' HTTP
client and APScheduler are loaded only when the configuration uses them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from monitor.config.notifiers import delivery_policy, notifier_base_dir, notifier_options
from monitor.errors import ConfigError
from monitor.models import DeliveryState, OutboxPlan
from monitor.notify.base import (
    ConsoleOptions,
    DeliveryPolicy,
    EmailOptions,
    FileOptions,
    Notifier,
    WebhookOptions,
)
from monitor.notify.schedule import crontab_trigger
from monitor.notify.worker import DeliveryLimits, DeliveryWorker
from monitor.pipeline import utc_now

if TYPE_CHECKING:
    import httpx
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.base import BaseTrigger

    from monitor.config import MonitorConfig, Settings
    from monitor.notify.email import SmtpSettings
    from monitor.store import Store

__all__ = [
    "Delivery",
    "build_notifiers",
    "build_plan",
    "digest_trigger",
    "gather_digest",
    "gather_overflow",
    "needs_webhook_client",
]

log = logging.getLogger(__name__)

OVERFLOW_CHECK = timedelta(minutes=1)
SILENCE_KEPT = timedelta(days=7)  # an expired silence is deleted this long after it ended


def build_plan(config: MonitorConfig) -> OutboxPlan:
    """Where each rule's alerts go, which notifiers gather digests, each rule's `realert`."""
    routes = {
        rule.id: tuple(n.id for n in config.notifiers_for(rule)) for rule in config.rules.rules
    }
    held = frozenset(n.id for n in config.notifiers if delivery_policy(n).mode == "digest")
    realert = {rule.id: rule.realert for rule in config.rules.rules if rule.realert}
    return OutboxPlan(routes=routes, held=held, realert=realert, ops=config.ops_notify)


def needs_webhook_client(config: MonitorConfig) -> bool:
    """Whether `build_notifiers` needs an HTTP client: only webhook notifiers use one."""
    return any(entry.type == "webhook" for entry in config.notifiers)


def build_notifiers(
    config: MonitorConfig, settings: Settings, client: httpx.AsyncClient | None
) -> dict[str, Notifier]:
    """One notifier per `notifiers:` entry; webhooks share `client` (see `needs_webhook_client`).
    Raises ConfigError for what only shows now: an email notifier without SMTP settings, a
    template that does not compile."""
    notifiers: dict[str, Notifier] = {}
    smtp: SmtpSettings | None = None
    folder = notifier_base_dir(config.source, embedded=config.embedded)  # as `check` resolves
    for entry in config.notifiers:
        options = notifier_options(entry, folder)
        if isinstance(options, WebhookOptions):
            if client is None:
                raise ValueError(f'notifier "{entry.id}": a webhook needs an HTTP client')
            notifiers[entry.id] = _webhook_notifier(entry.id, options, client)
        elif isinstance(options, EmailOptions):
            from monitor.notify.email import EmailNotifier, SmtpSettings

            if smtp is None:
                try:
                    smtp = SmtpSettings.from_settings(settings)
                except ValueError as exc:
                    raise ConfigError(f'notifier "{entry.id}": {exc}') from None
            notifiers[entry.id] = EmailNotifier(entry.id, options, smtp)
        elif isinstance(options, FileOptions):
            from monitor.notify.file import FileNotifier

            notifiers[entry.id] = FileNotifier(entry.id, options)
        elif isinstance(options, ConsoleOptions):
            from monitor.notify.console import ConsoleNotifier

            notifiers[entry.id] = ConsoleNotifier(entry.id)
    return notifiers


def _webhook_notifier(
    notifier_id: str, options: WebhookOptions, client: httpx.AsyncClient
) -> Notifier:
    from monitor.notify.formats import load_template
    from monitor.notify.webhook import WebhookNotifier

    template = load_template(options.template) if options.template else None
    return WebhookNotifier(notifier_id, options, client, template)


def digest_trigger(policy: DeliveryPolicy) -> BaseTrigger | None:
    """The APScheduler trigger of a digest notifier (UTC), None for an immediate one."""
    if policy.mode != "digest":
        return None
    if policy.cron is not None:
        return crontab_trigger(policy.cron)
    assert policy.every is not None
    from apscheduler.triggers.interval import IntervalTrigger

    return IntervalTrigger(seconds=policy.every.total_seconds(), timezone="UTC")


async def gather_digest(store: Store, notifier_id: str, *, now: datetime) -> int:
    """Gather the notifier's held alerts into one digest, due now; returns how many. An empty
    digest sends nothing."""
    gathered = await store.gather_held(notifier_id, now=now)
    if gathered is None:
        return 0
    batch_id, count = gathered
    log.info("digest %s for %s: %d alerts", batch_id, notifier_id, count)
    return count


async def gather_overflow(
    store: Store, policies: Mapping[str, DeliveryPolicy], *, now: datetime
) -> int:
    """Fold each capped notifier's alerts held for an hour into one summary; returns how many."""
    total = 0
    for notifier_id, policy in policies.items():
        if policy.mode == "digest" or policy.max_per_hour is None:
            continue
        gathered = await store.gather_held(notifier_id, now=now, due_only=True)
        if gathered is not None:
            log.info("rate cap summary for %s: %d alerts", notifier_id, gathered[1])
            total += gathered[1]
    return total


class Delivery:
    """The delivery stage of a running service: `start`, `wake` after alerts, `stop`."""

    def __init__(
        self,
        store: Store,
        config: MonitorConfig,
        settings: Settings,
        *,
        notifiers: Mapping[str, Notifier] | None = None,
        clock: Callable[[], datetime] = utc_now,
        on_outcome: Callable[[str, str, int], None] | None = None,
        owner: str | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._client: httpx.AsyncClient | None = None
        if notifiers is None:
            if needs_webhook_client(config):
                from monitor.notify.webhook import create_webhook_client

                self._client = create_webhook_client(settings.user_agent)
            notifiers = build_notifiers(config, settings, self._client)
        self.notifiers = dict(notifiers)
        self.policies = {n.id: delivery_policy(n) for n in config.notifiers}
        self.plan = build_plan(config)
        limits = DeliveryLimits(
            max_attempts=settings.delivery_max_attempts,
            max_age=settings.delivery_max_age,
            lease=settings.delivery_lease,
        )
        self.worker = DeliveryWorker(
            store,
            self.notifiers,
            policies=self.policies,
            rule_descriptions={r.id: r.description for r in config.rules.rules if r.description},
            limits=limits,
            clock=clock,
            on_outcome=on_outcome,
            owner=owner,
        )
        self._task: asyncio.Task[None] | None = None
        self._scheduler: AsyncIOScheduler | None = None
        self._job_ids: list[str] = []
        self._stopped = False

    def start(self, scheduler: AsyncIOScheduler | None = None) -> None:
        """Run the worker in the background; add the periodic jobs to `scheduler`."""
        self._task = asyncio.create_task(self.worker.run(), name="delivery-worker")
        if scheduler is None:
            return
        self._scheduler = scheduler
        # Job ids are unique per Delivery: after a reload the old one removes only its own.
        prefix = f"delivery-{id(self):x}"
        for notifier_id, policy in self.policies.items():
            trigger = digest_trigger(policy)
            if trigger is not None and notifier_id in self.notifiers:
                job = scheduler.add_job(
                    self.flush_digest,
                    trigger,
                    args=(notifier_id,),
                    id=f"{prefix}-digest-{notifier_id}",
                    coalesce=True,
                    max_instances=1,
                    misfire_grace_time=None,
                )
                self._job_ids.append(job.id)
        job = scheduler.add_job(
            self.housekeeping,
            "interval",
            seconds=OVERFLOW_CHECK.total_seconds(),
            id=f"{prefix}-housekeeping",
            coalesce=True,
            max_instances=1,
        )
        self._job_ids.append(job.id)

    def wake(self) -> None:
        self.worker.wake()

    async def flush_digest(self, notifier_id: str) -> int:
        """The digest job: see `gather_digest`."""
        count = await gather_digest(self._store, notifier_id, now=self._clock())
        if count:
            self.worker.wake()
        return count

    async def flush_overflow(self) -> int:
        count = await gather_overflow(self._store, self.policies, now=self._clock())
        if count:
            self.worker.wake()
        return count

    async def housekeeping(self) -> None:
        await self.flush_overflow()
        await self._store.delete_expired_silences(before=self._clock() - SILENCE_KEPT)

    async def drain(self) -> dict[str, DeliveryState]:
        """Deliver everything due now (for `monitor once`); the state each delivery it handled
        was left in, by delivery id."""
        return await self.worker.drain()

    async def stop(self, grace: float | None = None) -> None:
        """Finish the sends in flight within `grace` seconds (None: however long they take),
        cancel what is left (its deliveries go out again on the next start), close notifiers."""
        if self._stopped:
            return
        self._stopped = True
        self.worker.stop()
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=grace)
            if not done:
                log.warning("cancelling deliveries still in flight after %ss", grace)
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._scheduler is not None:
            from apscheduler.jobstores.base import JobLookupError

            for job_id in self._job_ids:
                with contextlib.suppress(JobLookupError):
                    self._scheduler.remove_job(job_id)
        for notifier in self.notifiers.values():
            await notifier.aclose()
        if self._client is not None:
            await self._client.aclose()
