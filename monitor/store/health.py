"""Whether a poll turns a feed unhealthy or brings it back: the content of the ops notice."""

from __future__ import annotations

from monitor.models import Feed, FeedStateUpdate, FeedStatus, HealthNotice, NoticeKind
from monitor.redact import redact_url


def health_notice(before: Feed, update: FeedStateUpdate) -> HealthNotice | None:
    """The notice for the `ops_notify` notifiers when this poll changes the feed's health.

    Down: the feed becomes unhealthy (the pipeline decides when: several failures over a
    while, not one glitch). Recovered: an unhealthy feed is read again. None otherwise.
    """
    if before.status is FeedStatus.DISABLED:
        return None
    if update.status is FeedStatus.UNHEALTHY and before.status is not FeedStatus.UNHEALTHY:
        kind, failures = NoticeKind.FEED_DOWN, before.error_count + 1
    elif update.error is None and before.status is FeedStatus.UNHEALTHY:
        kind, failures = NoticeKind.FEED_RECOVERED, before.error_count
    else:
        return None
    return HealthNotice(
        kind=kind,
        at=update.polled_at,
        feed_id=before.id,
        feed_title=before.title,
        feed_url=redact_url(before.url),
        failures=failures,
        error=update.error if kind is NoticeKind.FEED_DOWN else before.last_error,
        since=before.last_success_at,
    )
