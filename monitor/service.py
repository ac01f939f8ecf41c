"""The daemon's lifecycle: start the stages in order, run until asked to stop, shut down in
reverse order. `run` and `once` are the same code; `once` stops when nothing is due (burst).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from monitor import __version__
from monitor.config import ConfigError, ConfigErrors, MonitorConfig, Settings, load_config
from monitor.errors import StoreError
from monitor.fetch import Fetcher, FetchLimits, Timeouts, create_client
from monitor.match import ArticleText, Matcher, compile_rules
from monitor.match import checks as rule_checks
from monitor.models import (
    Article,
    DeliveryState,
    Feed,
    OutboxPlan,
    PollOutcome,
    PollStatus,
    RuleMatch,
    utc_now,
)
from monitor.notify import (
    Delivery,
    DeliveryLimits,
    Notifier,
    build_notifiers,
    check_notifier_options,
    needs_webhook_client,
)
from monitor.parse import FeedParser
from monitor.pipeline import NewArticlesHook, Poller
from monitor.redact import redact_url
from monitor.scheduler import Dispatcher, DispatchLimits, create_scheduler
from monitor.store import Store, open_store
from monitor.store.single import DaemonLock
from monitor.unrecorded import UnrecordedPolls

if TYPE_CHECKING:
    import httpx
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from monitor.metrics import Metrics
    from monitor.status import StatusServer

log = logging.getLogger(__name__)

LOGGED_TEXT_LENGTH = 200  # characters of an article's title a log line shows
HEARTBEAT = timedelta(seconds=10)  # how often a running replica says it is alive
STALE_AFTER = 3 * HEARTBEAT  # a replica silent this long is not running
# Bodies parsed in a thread before the parser's process pool starts: a `once` in which only a
# few feeds changed starts no process (see FeedParser's `inline_jobs`).
INLINE_PARSES = 8


async def _watch_for_reloads(
    current: Callable[[], MonitorConfig],
    reload: Callable[[], Awaitable[bool]],
    stop: asyncio.Event,
) -> None:
    """`monitor.reload.watch_for_reloads`, imported when `run` starts: watchfiles is not
    needed by the other commands."""
    from monitor.reload import watch_for_reloads

    await watch_for_reloads(current, reload, stop)


def build_plan(config: MonitorConfig) -> OutboxPlan:
    """Where each rule's alerts go, which notifiers gather digests, each rule's `realert`."""
    rules = config.rules.rules
    routes = {rule.id: tuple(n.id for n in config.notifiers_for(rule)) for rule in rules}
    policies = config.delivery_policies()
    held = frozenset(nid for nid, policy in policies.items() if policy.mode == "digest")
    realert = {rule.id: rule.realert for rule in rules if rule.realert}
    return OutboxPlan(routes=routes, held=held, realert=realert, ops=config.ops_notify)


def new_delivery(
    store: Store,
    config: MonitorConfig,
    settings: Settings,
    *,
    notifiers: Mapping[str, Notifier] | None = None,
    clock: Callable[[], datetime] = utc_now,
    on_outcome: Callable[[str, str, int], None] | None = None,
    owner: str | None = None,
) -> Delivery:
    """The delivery stage for `config`: its notifiers (unless given), policies, plan and
    limits; the webhooks' HTTP client is made only when a webhook needs one."""
    client: httpx.AsyncClient | None = None
    if notifiers is None:
        options = config.notifier_settings()
        if needs_webhook_client(options):
            from monitor.notify.webhook import create_webhook_client

            client = create_webhook_client(settings.user_agent)
        notifiers = build_notifiers(options, settings, client)
    limits = DeliveryLimits(
        max_attempts=settings.delivery_max_attempts,
        max_age=settings.delivery_max_age,
        lease=settings.delivery_lease,
    )
    return Delivery(
        store,
        notifiers,
        policies=config.delivery_policies(),
        plan=build_plan(config),
        rule_descriptions={r.id: r.description for r in config.rules.rules if r.description},
        limits=limits,
        clock=clock,
        on_outcome=on_outcome,
        owner=owner,
        client=client,
    )


def compile_matcher(config: MonitorConfig) -> Matcher:
    """The config's rules compiled into one matcher; ConfigErrors with file:line if a rule
    cannot be compiled (a bad regex or query), or if a notifier option only notify can judge
    is bad (a signing key, a template, a subject, a cron expression)."""
    check_notifier_options(config.notifier_checks)
    return compile_rules(config.rules)


def match_articles(
    matcher: Matcher, feed: Feed, articles: Sequence[Article]
) -> Mapping[str, Sequence[RuleMatch]]:
    """Article key -> the rules it matches, for the articles that match any."""
    found: dict[str, Sequence[RuleMatch]] = {}
    for article in articles:
        matches = matcher.match(
            ArticleText.from_article(article), feed_id=feed.id, feed_tags=feed.tags
        )
        if matches:
            found[article.key] = matches
    return found


def replica_id() -> str:
    """Names this process in feed leases: host, pid and a random suffix."""
    return f"{_host_and_pid()}{uuid.uuid4().hex[:6]}"


def _host_and_pid() -> str:
    """The start of the replica ids of this host and pid: of this process, or of an earlier
    one that had the pid (a container restarted after a kill runs as pid 1 again)."""
    return f"{socket.gethostname()}:{os.getpid()}:"


@dataclass
class PollTally:
    """What a run did, counted by outcome; `monitor once` prints it."""

    outcomes: Counter[PollStatus] = field(default_factory=Counter)
    recorded: int = 0
    new: int = 0
    alerts: int = 0
    failures: list[PollOutcome] = field(default_factory=list)
    # This run's deliveries by state, after `once`: its alerts' and those it sent or tried.
    deliveries: dict[str, int] = field(default_factory=dict)
    alert_ids: list[str] = field(default_factory=list)
    first_polls: int = 0  # feeds read for the first time: their items are not new
    first_recorded: int = 0  # articles those first polls recorded
    backfilled: int = 0  # of those, the newest `backfill` ones, matched as new

    def add(self, outcome: PollOutcome) -> None:
        self.outcomes[outcome.status] += 1
        self.recorded += outcome.recorded
        self.new += len(outcome.new_articles)
        self.alerts += len(outcome.alerts)
        self.alert_ids.extend(alert.id for alert in outcome.alerts)
        if outcome.first_poll:
            self.first_polls += 1
            self.first_recorded += outcome.recorded
            self.backfilled += len(outcome.new_articles)
        if outcome.status is PollStatus.FAILED:
            self.failures.append(outcome)

    @property
    def polled(self) -> int:
        return sum(self.outcomes.values())


class Service:
    """Owns the store, the HTTP client, the parser pool, the dispatcher and the scheduler."""

    def __init__(
        self,
        settings: Settings,
        config: MonitorConfig,
        *,
        clock: Callable[[], datetime] = utc_now,
        on_new_articles: NewArticlesHook | None = None,
        parse_in_processes: bool = True,
        matcher: Matcher | None = None,
        notifiers: Mapping[str, Notifier] | None = None,
        on_outcome: Callable[[PollOutcome], None] | None = None,
    ) -> None:
        self.settings = settings
        self._on_outcome = on_outcome
        self.config = config
        self.owner = replica_id()
        self.tally = PollTally()
        self._clock = clock
        self._on_new_articles = on_new_articles
        self._parse_in_processes = parse_in_processes
        self.matcher = matcher or compile_matcher(config)
        self._stack = AsyncExitStack()
        self._notifiers = notifiers
        self._store: Store | None = None
        self._dispatcher: Dispatcher | None = None
        self._delivery: Delivery | None = None
        self._poller: Poller | None = None
        self._scheduler: AsyncIOScheduler | None = None
        self._reload_lock = asyncio.Lock()
        # Made by `run`, for its status server; `once` has nobody to show them to.
        self.metrics: Metrics | None = None
        self.status: StatusServer | None = None

    @property
    def store(self) -> Store:
        assert self._store is not None, "Service.start() first"
        return self._store

    @property
    def delivery(self) -> Delivery:
        assert self._delivery is not None, "Service.start() first"
        return self._delivery

    async def start(self) -> None:
        """Open the store, sync the configured feeds, build the pipeline. Fails before any
        poll starts if the store or the config cannot be used."""
        try:
            await self._start()
        except BaseException:
            await self.close()
            raise

    async def _start(self) -> None:
        settings = self.settings
        lock = DaemonLock(settings.database_url)
        lock.acquire()  # one daemon per SQLite file
        self._stack.callback(lock.release)
        self._store = await open_store(settings.database_url)
        self._stack.push_async_callback(self._store.close)
        await self._release_stale_leases(sqlite=lock.path is not None)
        report = await self._store.sync_feeds(self.config.feeds, now=self._clock())
        self._delivery = self._new_delivery(self.config)
        self._stack.push_async_callback(self._stop_delivery)
        timeouts = Timeouts(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            total=settings.fetch_timeout,
        )
        limits = FetchLimits(
            max_body_bytes=settings.max_body_bytes,
            max_connections=settings.fetch_concurrency,
            per_host=settings.per_host_concurrency,
        )
        client = create_client(user_agent=settings.user_agent, timeouts=timeouts, limits=limits)
        self._stack.push_async_callback(client.aclose)
        parser = FeedParser(
            use_processes=self._parse_in_processes,
            inline_jobs=INLINE_PARSES,
            memory_limit=settings.parse_memory_limit or None,
        )
        self._stack.push_async_callback(parser.aclose)
        unrecorded = UnrecordedPolls(clock=self._clock)
        poller = self._poller = Poller(
            self._store,
            Fetcher(client, limits=limits, timeouts=timeouts),
            parser,
            owner=self.owner,
            clock=self._clock,
            rng=random.Random(),
            match=lambda feed, articles: match_articles(self.matcher, feed, articles),
            on_new_articles=self._on_new_articles,
            plan=self._delivery.plan,
            unrecorded=unrecorded,
        )
        self._dispatcher = Dispatcher(
            self._store,
            poller.poll,
            owner=self.owner,
            clock=self._clock,
            limits=DispatchLimits(in_flight=settings.fetch_concurrency, lease=settings.feed_lease),
            on_outcome=self._count,
            unrecorded=unrecorded,
        )
        log.info(
            "store %s ready: %d feeds (%d added, %d updated, %d disabled)",
            redact_url(settings.database_url),
            len(self.config.feeds),
            len(report.added),
            len(report.updated),
            len(report.disabled),
        )

    async def _release_stale_leases(self, *, sqlite: bool) -> None:
        """After a kill -9, the leases the killed process held would keep its feeds and
        deliveries waiting for their expiry (5 minutes for a feed). On a SQLite file, which
        one daemon holds at a time (the lock), every lease left is stale; on PostgreSQL only
        those of an earlier process of this host and pid whose heartbeat stopped."""
        silent_since = self._clock() - STALE_AFTER
        prefix = None if sqlite else _host_and_pid()
        feeds, deliveries = await self.store.release_stale_leases(
            owner_prefix=prefix, silent_since=silent_since
        )
        if feeds or deliveries:
            log.info(
                "released the leases of a process that stopped without ending them: "
                "%d feeds, %d deliveries",
                feeds,
                deliveries,
            )

    def _new_delivery(self, config: MonitorConfig) -> Delivery:
        return new_delivery(
            self.store,
            config,
            self.settings,
            notifiers=self._notifiers,
            clock=self._clock,
            on_outcome=self.metrics.observe_delivery if self.metrics is not None else None,
            owner=f"{self.owner}/deliver",
        )

    async def _stop_delivery(self) -> None:
        if self._delivery is not None:
            await self._delivery.stop(self.settings.shutdown_grace)

    async def run(
        self,
        stop: asyncio.Event,
        force: asyncio.Event | None = None,
        reload: asyncio.Event | None = None,
    ) -> None:
        """The daemon: poll and deliver until `stop` is set, reloading the configuration on
        `reload` (SIGHUP) or when its files change; then finish in-flight polls and deliveries
        within the grace period (cut short when `force` is set) and close everything."""
        from monitor.metrics import Metrics  # prometheus_client: only the daemon serves them

        metrics = self.metrics = Metrics(__version__)
        await self.start()
        try:
            dispatcher = self._dispatcher
            assert dispatcher is not None
            scheduler = self._scheduler = create_scheduler(
                dispatcher, tick=DispatchLimits().tick, lease=self.settings.feed_lease
            )
            await self._heartbeat()
            scheduler.add_job(
                self._heartbeat,
                "interval",
                seconds=HEARTBEAT.total_seconds(),
                id="heartbeat",
                coalesce=True,
                max_instances=1,
            )
            self.delivery.start(scheduler)
            scheduler.start()
            await self._start_status(scheduler)
            watcher = asyncio.create_task(
                _watch_for_reloads(lambda: self.config, self.reload, reload or asyncio.Event())
            )
            metrics.observe_reload(ok=True, at=self._clock())
            try:
                await dispatcher.dispatch()
                await stop.wait()
                log.info("stopping: no new polls; finishing %d in flight", dispatcher.in_flight)
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
                scheduler.pause()
                await self._drain(force)
                scheduler.shutdown(wait=False)
                if self.status is not None:
                    await self.status.stop()
                with contextlib.suppress(StoreError):
                    await self.store.replica_stopped(self.owner, now=self._clock())
        finally:
            await self.close()

    async def _heartbeat(self) -> None:
        try:
            await self.store.heartbeat(
                self.owner,
                host=socket.gethostname(),
                pid=os.getpid(),
                version=__version__,
                now=self._clock(),
            )
        except StoreError as exc:
            log.warning("heartbeat failed: %s", exc)

    async def _start_status(self, scheduler: AsyncIOScheduler) -> None:
        address = self.settings.status_addr
        if not address:
            return
        assert self.metrics is not None, "made by run()"

        async def checks() -> dict[str, bool]:
            return {"config": True, "scheduler": scheduler.running}

        from monitor.status import StatusServer  # aiohttp.web: only `run` serves status

        token = self.settings.status_token
        self.status = StatusServer(
            address,
            store=self.store,
            metrics=self.metrics,
            checks=checks,
            clock=self._clock,
            token=token.get_secret_value() if token is not None else None,
        )
        await self.status.start()

    async def reload(self) -> bool:
        """Load and check the configuration again; if it is valid, switch to it: new feeds are
        polled, removed ones stop, rules and notifiers are rebuilt, and nothing in flight is
        lost. If not, keep running the current one, log each error with file:line and count
        the failure. Returns whether the new configuration runs."""
        async with self._reload_lock:
            try:
                source = None if self.config.embedded else self.config.source
                # In a thread: the files are read and a large rule set takes a while to compile.
                config = await asyncio.to_thread(
                    load_config, self.settings, source, rule_checks=rule_checks
                )
                matcher = await asyncio.to_thread(compile_matcher, config)
                delivery = self._new_delivery(config)
            except ConfigError as exc:
                errors = exc.errors if isinstance(exc, ConfigErrors) else (exc,)
                for error in errors:
                    log.error("reload refused: %s", error)
                log.error("keeping the running configuration (%d errors)", len(errors))
                if self.metrics is not None:
                    self.metrics.observe_reload(ok=False, at=self._clock())
                return False
            for warning in config.warnings:
                log.warning("%s", warning)
            report = await self.store.sync_feeds(config.feeds, now=self._clock())
            old, self._delivery = self._delivery, delivery
            delivery.start(self._scheduler)
            self.config, self.matcher = config, matcher
            if self._poller is not None:
                self._poller.plan = delivery.plan
            if old is not None:
                await old.stop(self.settings.shutdown_grace)
            if self.metrics is not None:
                self.metrics.observe_reload(ok=True, at=self._clock())
            log.info(
                "configuration reloaded: %d feeds (%d added, %d updated, %d removed), %d rules",
                len(config.feeds),
                len(report.added),
                len(report.updated),
                len(report.disabled),
                len(config.rules.rules),
            )
            if self._dispatcher is not None:
                await self._dispatcher.dispatch()
            return True

    async def once(self) -> PollTally:
        """Poll every configured feed once, now, deliver what is due, and return the tally
        (arq's burst mode)."""
        await self.start()
        try:
            tally = await self.poll_all()
            settled = await self.delivery.drain()
            tally.deliveries = await self._deliveries_of(tally.alert_ids, settled)
            return tally
        finally:
            await self.close()

    async def _deliveries_of(
        self, alert_ids: Sequence[str], settled: Mapping[str, DeliveryState]
    ) -> dict[str, int]:
        """The run's deliveries by state: those of its alerts (sent, waiting, held for a digest,
        suppressed), and those written before it that it sent or tried (retries, notices)."""
        states = {
            status.id: status.state
            for statuses in (await self.store.delivery_statuses(alert_ids)).values()
            for status in statuses
        }
        states.update(settled)
        return dict(Counter(state.value for state in states.values()))

    async def poll_all(self) -> PollTally:
        """Make every feed due now, poll until nothing is due or in flight, and return the
        tally of this cycle alone."""
        assert self._dispatcher is not None, "Service.start() first"
        self.tally = PollTally()
        await self.store.mark_all_due(now=self._clock())
        await self._dispatcher.run_until_idle()
        return self.tally

    async def _drain(self, force: asyncio.Event | None) -> None:
        """Finish in-flight polls and deliveries within the grace period, together."""
        dispatcher = self._dispatcher
        assert dispatcher is not None
        grace = self.settings.shutdown_grace
        drain = asyncio.create_task(self._finish_in_flight(grace))
        forced = asyncio.create_task((force or asyncio.Event()).wait())
        await asyncio.wait({drain, forced}, return_when=asyncio.FIRST_COMPLETED)
        if not drain.done():
            log.warning("second signal: cancelling in-flight polls and deliveries now")
            await asyncio.gather(dispatcher.drain(0), self.delivery.stop(0))
            await drain
        forced.cancel()
        await self.store.release_claims(self.owner)

    async def _finish_in_flight(self, grace: float) -> None:
        assert self._dispatcher is not None
        await asyncio.gather(self._dispatcher.drain(grace), self._stop_delivery())

    def _count(self, outcome: PollOutcome) -> None:
        self.tally.add(outcome)
        if self.metrics is not None:
            self.metrics.observe_poll(outcome)
        if self._on_outcome is not None:
            self._on_outcome(outcome)
        if self._delivery is not None:
            self._delivery.wake()  # alerts, or an ops notice, may be waiting
        for alert in outcome.alerts:
            log.info(
                "alert: %s: %s",
                alert.rule_id,
                _excerpt(alert.title),
                extra={"rule_id": alert.rule_id, "feed_id": alert.feed_id, "alert_id": alert.id},
            )

    async def close(self) -> None:
        await self._stack.aclose()


def _excerpt(text: str) -> str:
    """A short excerpt of article text for a log line: the text is a stranger's, of any size."""
    return text if len(text) <= LOGGED_TEXT_LENGTH else text[: LOGGED_TEXT_LENGTH - 1] + "…"
