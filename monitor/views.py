"""The JSON shapes of feeds and alerts, shared by the CLI (`--json`) and the status server's API
(the README's Commands table: feeds `id`, `url`, `status`, `articles`, `errors`, `last_poll`,
`next_poll`; alerts `id`, `rule`, `article_key`, `url`, `detected_at`, `deliveries` [`notifier`,
`state`, `attempts`]). Feed URLs are shown redacted (`monitor.redact`), as in the logs."""

from __future__ import annotations

from typing import Any

from monitor.models import Alert, DeliveryStatus, FeedSummary, iso_utc
from monitor.redact import redact_url

__all__ = ["alert_json", "feed_json"]


def feed_json(summary: FeedSummary) -> dict[str, Any]:
    feed = summary.feed
    return {
        "id": feed.id,
        "url": redact_url(feed.url),
        "status": feed.status.value,
        "articles": summary.articles,
        "errors": feed.error_count,
        "last_error": feed.last_error,
        "last_poll": iso_utc(feed.last_poll_at),
        "next_poll": iso_utc(feed.next_poll_at),
        "poll_interval_seconds": feed.poll_interval.total_seconds(),
    }


def alert_json(alert: Alert, states: list[DeliveryStatus]) -> dict[str, Any]:
    return {
        "id": alert.id,
        "rule": alert.rule_id,
        "article_key": alert.article_key,
        "url": alert.url,
        "title": alert.title,
        "feed": alert.feed_id,
        "detected_at": iso_utc(alert.detected_at),
        "score": alert.score,
        "matches": alert.match.hits_json(),
        "deliveries": [
            {
                "notifier": status.notifier,
                "state": status.state.value,
                "attempts": status.attempts,
                "last_error": status.last_error,
                "sent_at": iso_utc(status.sent_at),
            }
            for status in states
        ],
    }
