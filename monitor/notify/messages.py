"""What notifiers send: one alert, a digest of alerts, or a notice about the monitor itself.

These are built by the delivery worker from the outbox and handed to a `Notifier`; they carry
everything a notifier renders, so that notifiers never read the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from monitor.models import NoticeKind, RuleMatch, iso_utc

__all__ = [
    "AlertMessage",
    "ArticleInfo",
    "Digest",
    "FeedInfo",
    "NoticeKind",
    "OpsNotice",
    "Outgoing",
    "alert_payload",
    "iso_utc",
    "link_url",
]

LINK_SCHEMES = frozenset({"http", "https"})


def link_url(url: str | None) -> str | None:
    """`url` if it may be a clickable link in a message (email, slack, discord, teams): an
    http(s) URL with a host; else None, and the message shows no link. Article links are
    attacker-controlled: a `javascript:` or `data:` link must not reach a click."""
    if not url or any(ord(char) < 0x21 for char in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in LINK_SCHEMES and parts.netloc else None


@dataclass(frozen=True, slots=True)
class FeedInfo:
    id: str
    title: str | None
    url: str  # redacted: no credentials or token-like query values


@dataclass(frozen=True, slots=True)
class ArticleInfo:
    key: str
    title: str
    url: str | None
    published: datetime | None  # UTC
    summary: str  # plain text
    authors: tuple[str, ...]
    feed: FeedInfo


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """One alert for one notifier. `delivery_id` is stable across retries (the `webhook-id`)."""

    delivery_id: str
    alert_id: str
    detected_at: datetime  # UTC
    rule_id: str
    rule_description: str | None
    article: ArticleInfo
    match: RuleMatch

    @property
    def score(self) -> float:
        return self.match.score


@dataclass(frozen=True, slots=True)
class Digest:
    """Several alerts sent as one message (`mode: digest`, or the overflow of `max_per_hour`).

    `alerts` are in detection order; renderers group them by rule. `omitted` counts alerts that
    were folded into this message without being listed (the rate cap's overflow summary).
    """

    delivery_id: str
    created_at: datetime  # UTC
    alerts: tuple[AlertMessage, ...]
    omitted: int = 0

    def by_rule(self) -> dict[str, list[AlertMessage]]:
        groups: dict[str, list[AlertMessage]] = {}
        for alert in self.alerts:
            groups.setdefault(alert.rule_id, []).append(alert)
        return groups


@dataclass(frozen=True, slots=True)
class OpsNotice:
    """A feed turned unhealthy, or recovered: for the notifiers of `ops_notify`."""

    delivery_id: str
    kind: NoticeKind
    at: datetime  # UTC
    feed: FeedInfo
    failures: int  # consecutive failures (FEED_DOWN), or how many it had (FEED_RECOVERED)
    error: str | None  # the last error, already free of secrets
    since: datetime | None  # when it started failing

    @property
    def summary(self) -> str:
        if self.kind is NoticeKind.FEED_DOWN:
            return f"Feed {self.feed.id} is down after {self.failures} failures: {self.error}"
        return f"Feed {self.feed.id} has recovered"


Outgoing = AlertMessage | Digest | OpsNotice


def alert_payload(alert: AlertMessage) -> dict[str, Any]:
    """The webhook payload (`format: json`, README "Webhook payload"): these keys, in order."""
    article, match = alert.article, alert.match
    return {
        "id": alert.alert_id,
        "detected_at": iso_utc(alert.detected_at),
        "rule": {"id": alert.rule_id, "description": alert.rule_description or ""},
        "article": {
            "key": article.key,
            "title": article.title,
            "url": article.url,
            "published": iso_utc(article.published),
            "summary": article.summary,
            "authors": list(article.authors),
            "feed": {"id": article.feed.id, "title": article.feed.title, "url": article.feed.url},
        },
        "matches": match.hits_json(),
        "score": match.score,
    }
