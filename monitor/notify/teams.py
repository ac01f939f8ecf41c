"""The `teams` webhook format: one Adaptive Card (version 1.4) for a Teams Workflows webhook,
markdown escaped."""

from __future__ import annotations

import re
from typing import Any

from monitor.notify.chat import (
    SNIPPET_CHARS,
    markdown_url,
    one_line,
    title_of,
    truncate,
)
from monitor.notify.messages import (
    AlertMessage,
    Digest,
    NoticeKind,
    OpsNotice,
    Outgoing,
    iso_utc,
    link_url,
)

__all__ = ["TEAMS_DIGEST_ALERTS", "teams_escape", "teams_payload"]

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
TEAMS_DIGEST_ALERTS = 40  # the Workflows webhook refuses messages over about 28 KB
_TEAMS_MARKDOWN = re.compile(r"([\\*_\[\]`])")


def teams_escape(text: str) -> str:
    """The CommonMark characters an Adaptive Card TextBlock acts on, backslash-escaped."""
    return _TEAMS_MARKDOWN.sub(r"\\\1", text)


def _text_block(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _fact_set(facts: list[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "FactSet", "facts": [{"title": t, "value": v} for t, v in facts if v]}


def teams_payload(message: Outgoing) -> dict[str, Any]:
    """A Teams Workflows webhook message holding one Adaptive Card (version 1.4)."""
    actions: list[dict[str, Any]] = []
    if isinstance(message, AlertMessage):
        body = _teams_alert_body(message)
        if url := link_url(message.article.url):
            actions.append({"type": "Action.OpenUrl", "title": "Open article", "url": url})
    elif isinstance(message, Digest):
        body = _teams_digest_body(message)
    else:
        body = _teams_notice_body(message)
    card = {
        "$schema": ADAPTIVE_CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": actions,
        "msteams": {"width": "Full"},
    }
    attachment = {"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": card}
    return {"type": "message", "attachments": [attachment]}


def _teams_alert_body(alert: AlertMessage) -> list[dict[str, Any]]:
    article, match = alert.article, alert.match
    actors = ", ".join(f"{hit.name} ({', '.join(hit.mentions)})" for hit in match.actors)
    body = [
        _text_block(teams_escape(truncate(title_of(alert), 300)), size="Medium", weight="Bolder"),
        _fact_set(
            [
                ("Rule", teams_escape(alert.rule_id)),
                ("About", teams_escape(one_line(alert.rule_description or ""))),
                ("Score", f"{alert.score:g}"),
                ("Feed", teams_escape(article.feed.title or article.feed.id)),
                ("Published", iso_utc(article.published) or ""),
                ("Actors", teams_escape(truncate(actors, 1000))),
            ]
        ),
    ]
    for hit in match.keywords[:20]:
        snippet = teams_escape(truncate(one_line(hit.snippet), SNIPPET_CHARS))
        body.append(
            _text_block(f"**{teams_escape(hit.term)}** ({hit.field}): {snippet}", isSubtle=True)
        )
    if article.summary.strip():
        body.append(_text_block(teams_escape(truncate(one_line(article.summary), 1000))))
    return body


def _teams_digest_body(digest: Digest) -> list[dict[str, Any]]:
    total = len(digest.alerts) + digest.omitted
    body = [_text_block(f"Digest: {total} alerts", size="Medium", weight="Bolder")]
    shown = 0
    for rule_id, alerts in digest.by_rule().items():
        listed = alerts[: TEAMS_DIGEST_ALERTS - shown]
        if not listed:
            break
        body.append(_text_block(f"Rule {teams_escape(rule_id)} ({len(alerts)})", weight="Bolder"))
        body += [_text_block(_teams_digest_line(alert), spacing="None") for alert in listed]
        shown += len(listed)
    if total > shown:
        body.append(_text_block(f"…and {total - shown} more", isSubtle=True))
    return body


def _teams_digest_line(alert: AlertMessage) -> str:
    title = teams_escape(truncate(title_of(alert), 200))
    url = link_url(alert.article.url)
    line = f"[{title}]({markdown_url(url)})" if url else title
    return f"- {line} · score {alert.score:g}"


def _teams_notice_body(notice: OpsNotice) -> list[dict[str, Any]]:
    down = notice.kind is NoticeKind.FEED_DOWN
    title = f"Feed {notice.feed.id} " + ("is down" if down else "has recovered")
    return [
        _text_block(
            teams_escape(title),
            size="Medium",
            weight="Bolder",
            color="Attention" if down else "Good",
        ),
        _fact_set(
            [
                ("Feed", teams_escape(notice.feed.title or notice.feed.id)),
                ("URL", link_url(notice.feed.url) or ""),
                ("Failures", str(notice.failures)),
                ("Since", iso_utc(notice.since) or ""),
                ("Error", teams_escape(truncate(one_line(notice.error or ""), 1000))),
            ]
        ),
    ]
