"""The `slack` webhook format: Block Kit sections within Slack's limits, article text escaped so
that it can neither ping a channel nor inject links."""

from __future__ import annotations

from typing import Any

from monitor.notify.chat import (
    SNIPPET_CHARS,
    fit_lines,
    one_line,
    terms_of,
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

__all__ = ["SLACK_MAX_BLOCKS", "slack_escape", "slack_payload"]

SLACK_MAX_BLOCKS = 50
SLACK_SECTION_CHARS = 3000
# Slack refuses long block sets well below 50 full sections ("msg_blocks_too_long").
SLACK_MESSAGE_CHARS = 12000


def slack_escape(text: str) -> str:
    """Slack's three control characters as entities: `<!channel>` in an article stays text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str | None, label: str) -> str:
    url = link_url(url)
    if url is None:
        return slack_escape(label)
    return f"<{slack_escape(url).replace('|', '%7C')}|{slack_escape(label)}>"


def _slack_section(text: str) -> dict[str, Any]:
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": truncate(text, SLACK_SECTION_CHARS)},
    }


def _slack_context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text, 3000)}]}


def slack_payload(message: Outgoing) -> dict[str, Any]:
    """A Slack incoming-webhook message: a plain fallback `text` and Block Kit `blocks`."""
    if isinstance(message, AlertMessage):
        text = f"{message.rule_id}: {title_of(message)}"
        blocks = _slack_alert_blocks(message)
    elif isinstance(message, Digest):
        text = f"{len(message.alerts) + message.omitted} alerts"
        blocks = _slack_digest_blocks(message)
    else:
        text = message.summary
        blocks = [_slack_section(_slack_notice_text(message))]
    return {"text": slack_escape(truncate(one_line(text), 300)), "blocks": blocks}


def _slack_alert_blocks(alert: AlertMessage) -> list[dict[str, Any]]:
    article, match = alert.article, alert.match
    rule = f"Rule `{slack_escape(alert.rule_id)}`"
    if alert.rule_description:
        rule += f" ({slack_escape(one_line(alert.rule_description))})"
    headline = _slack_link(article.url, truncate(title_of(alert), 300))
    blocks = [_slack_section(f"*{headline}*\n{rule} · score {alert.score:g}")]
    if match.keywords:
        lines = [
            f"• *{slack_escape(hit.term)}* in {hit.field}: "
            + slack_escape(truncate(one_line(hit.snippet), SNIPPET_CHARS))
            for hit in match.keywords
        ]
        blocks.append(_slack_section(fit_lines(["*Matched terms*", *lines], SLACK_SECTION_CHARS)))
    if match.actors:
        lines = [
            f"• *{slack_escape(hit.name)}* (`{slack_escape(hit.id)}`): "
            + slack_escape(truncate(", ".join(hit.mentions), SNIPPET_CHARS))
            for hit in match.actors
        ]
        blocks.append(_slack_section(fit_lines(["*Actors*", *lines], SLACK_SECTION_CHARS)))
    feed = slack_escape(article.feed.title or article.feed.id)
    published = iso_utc(article.published) or "unknown"
    blocks.append(_slack_context(f"{feed} · published {published} · alert {alert.alert_id}"))
    return blocks


def _slack_digest_line(alert: AlertMessage) -> str:
    line = f"• {_slack_link(alert.article.url, truncate(title_of(alert), 150))}"
    line += f" · score {alert.score:g}"
    if alert.match.keywords:
        line += " · " + slack_escape(truncate(terms_of(alert), 150))
    return line


def _slack_digest_blocks(digest: Digest) -> list[dict[str, Any]]:
    total = len(digest.alerts) + digest.omitted
    blocks = [_slack_section(f"*Digest: {total} alerts* · {iso_utc(digest.created_at)}")]
    budget, shown = SLACK_MESSAGE_CHARS, 0
    for rule_id, alerts in digest.by_rule().items():
        if len(blocks) >= SLACK_MAX_BLOCKS - 1:  # keep the last block for "and N more"
            break
        lines = [f"*Rule `{slack_escape(rule_id)}`* ({len(alerts)})"]
        size, limit = len(lines[0]), min(SLACK_SECTION_CHARS, budget)
        for alert in alerts:
            line = _slack_digest_line(alert)
            if size + 1 + len(line) > limit:
                break
            lines.append(line)
            size += 1 + len(line)
        if len(lines) == 1:
            break
        blocks.append(_slack_section("\n".join(lines)))
        budget, shown = budget - size, shown + len(lines) - 1
    if total > shown:
        blocks.append(_slack_context(f"…and {total - shown} more"))
    return blocks


def _slack_notice_text(notice: OpsNotice) -> str:
    feed = _slack_link(notice.feed.url, notice.feed.title or notice.feed.id)
    if notice.kind is NoticeKind.FEED_RECOVERED:
        return (
            f":large_green_circle: *Feed `{slack_escape(notice.feed.id)}` has recovered* ({feed})"
        )
    since = f"\nFailing since {iso_utc(notice.since)}" if notice.since else ""
    error = slack_escape(truncate(one_line(notice.error or "unknown error"), 1000))
    return (
        f":red_circle: *Feed `{slack_escape(notice.feed.id)}` is down* ({feed})\n"
        f"{notice.failures} failures in a row: {error}{since}"
    )
