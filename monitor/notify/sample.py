"""A made-up alert for trying a notifier (`monitor notify-test`) and for checking, when the
configuration loads, that a notifier's templates render."""

from __future__ import annotations

import uuid

from monitor.models import ActorHit, RuleMatch, TermHit, utc_now
from monitor.notify.messages import AlertMessage, ArticleInfo, FeedInfo

__all__ = ["sample_alert"]


def sample_alert() -> AlertMessage:
    """A made-up alert, marked as a test everywhere it shows."""
    now = utc_now()
    title = "Test alert from feed-monitor: Armenia and Azerbaijan sign a peace treaty"
    match = RuleMatch(
        rule_id="notify-test",
        keywords=(TermHit("peace treaty", "title", title),),
        actors=(
            ActorHit("armenia", "Armenia", ("Armenia",)),
            ActorHit("azerbaijan", "Azerbaijan", ("Azerbaijan",)),
        ),
        score=6.0,
    )
    article = ArticleInfo(
        key="notify-test",
        title=title,
        url="https://example.org/feed-monitor/notify-test",
        published=now,
        summary="This is a test message sent by `monitor notify-test`. No action is needed.",
        authors=("feed-monitor",),
        feed=FeedInfo("notify-test", "feed-monitor test", "https://example.org/feed.xml"),
    )
    return AlertMessage(
        delivery_id=f"test-{uuid.uuid4().hex}",
        alert_id=f"test-{uuid.uuid4().hex}",
        detected_at=now,
        rule_id="notify-test",
        rule_description="A test of the notifier's configuration",
        article=article,
        match=match,
    )
