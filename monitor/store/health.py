"""Whether a poll turns a feed unhealthy or brings it back: the content of the ops notice."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from monitor.models import Feed, FeedStateUpdate, FeedStatus
from monitor.redact import redact_url

FEED_DOWN, FEED_RECOVERED = "feed_down", "feed_recovered"


def health_notice(before: Feed, update: FeedStateUpdate) -> dict[str, Any] | None:
    """The notice for the `ops_notify` notifiers when this poll changes the feed's health.

    Down: the feed becomes unhealthy (the pipeline decides when: several failures over a
    while, not one glitch). Recovered: an unhealthy feed is read again. None otherwise.
    """
    if before.status is FeedStatus.DISABLED:
        return None
    if update.status is FeedStatus.UNHEALTHY and before.status is not FeedStatus.UNHEALTHY:
        kind, failures = FEED_DOWN, before.error_count + 1
    elif update.error is None and before.status is FeedStatus.UNHEALTHY:
        kind, failures = FEED_RECOVERED, before.error_count
    else:
        return None
    last_success = before.last_success_at
    return {
        "kind": kind,
        "at": update.polled_at.astimezone(UTC).isoformat(),
        "feed": {"id": before.id, "title": before.title, "url": redact_url(before.url)},
        "failures": failures,
        "error": update.error if kind == FEED_DOWN else before.last_error,
        "since": last_success.astimezone(UTC).isoformat() if last_success else None,
    }
