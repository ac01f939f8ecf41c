"""The daemon's Prometheus metrics, in a registry of its own (one per service).

Counters and histograms are updated as things happen (`observe_poll`, `observe_delivery`,
`observe_reload`); gauges that live in the store (outbox depth and age, feeds by status) are read
by `refresh` when `/metrics` is scraped.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from monitor.models import PollOutcome
from monitor.store import Store

__all__ = ["Metrics"]

_POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_PARSE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
FEED_STATUSES = ("new", "ok", "error", "unhealthy", "disabled")
DELIVERY_STATES = ("pending", "held", "sent", "dead", "suppressed")


class Metrics:
    def __init__(self, version: str) -> None:
        self.registry = registry = CollectorRegistry()
        build = Gauge("monitor_build_info", "The running version.", ["version"], registry=registry)
        build.labels(version=version).set(1)
        self.polls = Counter(
            "monitor_polls", "Feed polls by outcome.", ["outcome"], registry=registry
        )
        self.poll_seconds = Histogram(
            "monitor_poll_duration_seconds",
            "A feed poll, fetch to store.",
            buckets=_POLL_BUCKETS,
            registry=registry,
        )
        self.parse_seconds = Histogram(
            "monitor_parse_duration_seconds",
            "Parsing one feed document.",
            buckets=_PARSE_BUCKETS,
            registry=registry,
        )
        self.articles = Counter(
            "monitor_articles",
            "Articles in polled feeds: new (stored now) or seen (stored before).",
            ["kind"],
            registry=registry,
        )
        self.matches = Counter(
            "monitor_matches", "Rule matches on new articles.", ["rule"], registry=registry
        )
        self.alerts = Counter(
            "monitor_alerts",
            "Alerts created (one per rule and story).",
            ["rule"],
            registry=registry,
        )
        self.deliveries = Counter(
            "monitor_deliveries",
            "Delivery attempts by notifier and result: sent, retry, dead.",
            ["notifier", "state"],
            registry=registry,
        )
        self.outbox = Gauge(
            "monitor_outbox_deliveries", "Deliveries by state.", ["state"], registry=registry
        )
        self.outbox_pending = Gauge(
            "monitor_outbox_pending", "Deliveries waiting to be sent.", registry=registry
        )
        self.outbox_oldest = Gauge(
            "monitor_outbox_oldest_pending_seconds",
            "Age of the oldest delivery waiting to be sent (0 when none).",
            registry=registry,
        )
        self.feeds = Gauge("monitor_feeds", "Feeds by status.", ["status"], registry=registry)
        self.feeds_unhealthy = Gauge(
            "monitor_feeds_unhealthy", "Feeds failing for a while.", registry=registry
        )
        self.reloads = Counter(
            "monitor_config_reloads", "Configuration reloads applied.", registry=registry
        )
        self.reload_failures = Counter(
            "monitor_config_reload_failures",
            "Configuration reloads refused (the running configuration was kept).",
            registry=registry,
        )
        self.last_reload = Gauge(
            "monitor_config_last_reload_success_timestamp_seconds",
            "When the running configuration was loaded.",
            registry=registry,
        )
        for outcome in ("ok", "not_modified", "unchanged", "failed"):
            self.polls.labels(outcome=outcome)
        for kind in ("new", "seen"):
            self.articles.labels(kind=kind)

    def observe_poll(self, outcome: PollOutcome) -> None:
        self.polls.labels(outcome=outcome.status.value).inc()
        if outcome.seconds:
            self.poll_seconds.observe(outcome.seconds)
        if outcome.parse_seconds is not None:
            self.parse_seconds.observe(outcome.parse_seconds)
        self.articles.labels(kind="new").inc(outcome.recorded)
        self.articles.labels(kind="seen").inc(max(0, outcome.items - outcome.recorded))
        for rule_id in outcome.matched_rules:
            self.matches.labels(rule=rule_id).inc()
        for alert in outcome.alerts:
            self.alerts.labels(rule=alert.rule_id).inc()

    def observe_delivery(self, notifier_id: str, state: str, count: int = 1) -> None:
        self.deliveries.labels(notifier=notifier_id, state=state).inc(count)

    def observe_reload(self, *, ok: bool, at: datetime) -> None:
        if ok:
            self.reloads.inc()
            self.last_reload.set(at.timestamp())
        else:
            self.reload_failures.inc()

    async def refresh(self, store: Store, *, now: datetime) -> None:
        """Read the gauges that live in the store."""
        by_state = await store.count_deliveries()
        for state in DELIVERY_STATES:
            self.outbox.labels(state=state).set(by_state.get(state, 0))
        self.outbox_pending.set(by_state.get("pending", 0) + by_state.get("held", 0))
        oldest = await store.oldest_pending_delivery_at()
        self.outbox_oldest.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        by_status = await store.count_feeds_by_status()
        for status in FEED_STATUSES:
            self.feeds.labels(status=status).set(by_status.get(status, 0))
        self.feeds_unhealthy.set(by_status.get("unhealthy", 0))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
