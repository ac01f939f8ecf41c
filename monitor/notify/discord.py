"""The `discord` webhook format: embeds within Discord's limits, markdown escaped and no mention
parsed, so that an article saying "@everyone" pings nobody."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from monitor.notify.chat import (
    SNIPPET_CHARS,
    fit_lines,
    markdown_url,
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

__all__ = ["DISCORD_EMBEDS_CHARS", "discord_escape", "discord_payload"]

DISCORD_CONTENT_CHARS = 2000
DISCORD_TITLE_CHARS = 256
DISCORD_DESCRIPTION_CHARS = 4096
DISCORD_MAX_EMBEDS = 10
DISCORD_MAX_FIELDS = 25
DISCORD_FIELD_NAME_CHARS = 256
DISCORD_FIELD_VALUE_CHARS = 1024
DISCORD_FOOTER_CHARS = 2048
DISCORD_EMBEDS_CHARS = 6000  # titles, descriptions, fields and footers of all embeds together
# Parse no mention at all: an article saying "@everyone" must not ping anybody.
DISCORD_NO_MENTIONS: dict[str, list[str]] = {"parse": []}
_DISCORD_MARKDOWN = re.compile(r"([\\*_~`|<>\[\]#])")
_BLUE, _RED, _GREEN = 0x5865F2, 0xED4245, 0x57F287


def discord_escape(text: str) -> str:
    """Discord markdown characters backslash-escaped, so article text renders as typed."""
    return _DISCORD_MARKDOWN.sub(r"\\\1", text)


@dataclass
class _EmbedBudget:
    """What is left of Discord's 6000 characters for all the embeds of one message."""

    left: int = DISCORD_EMBEDS_CHARS

    def take(self, *texts: str) -> bool:
        size = sum(len(text) for text in texts)
        if size > self.left:
            return False
        self.left -= size
        return True


def _discord_field(name: str, value: str, *, inline: bool = False) -> dict[str, Any]:
    return {
        "name": truncate(name, DISCORD_FIELD_NAME_CHARS) or "-",
        "value": truncate(value, DISCORD_FIELD_VALUE_CHARS) or "-",
        "inline": inline,
    }


def _add_fields(embed: dict[str, Any], fields: list[dict[str, Any]], budget: _EmbedBudget) -> int:
    """Adds fields while the embed and the message have room; returns how many were added."""
    added = embed.setdefault("fields", [])
    for count, field in enumerate(fields):
        if len(added) >= DISCORD_MAX_FIELDS or not budget.take(field["name"], field["value"]):
            return count
        added.append(field)
    return len(fields)


def _discord_embed(
    budget: _EmbedBudget, title: str, description: str, color: int, **extra: Any
) -> dict[str, Any]:
    """An embed with its title and description cut to Discord's limits and to `budget`."""
    title = truncate(title, DISCORD_TITLE_CHARS)
    footer = str(extra.get("footer", {}).get("text", ""))
    room = budget.left - len(title) - len(footer)
    description = truncate(description, min(DISCORD_DESCRIPTION_CHARS, room))
    budget.take(title, description, footer)
    embed: dict[str, Any] = {"title": title, "color": color, **extra}
    if description:  # Discord refuses an empty description
        embed["description"] = description
    return embed


def discord_payload(message: Outgoing) -> dict[str, Any]:
    """A Discord execute-webhook body: `content`, `embeds`, and no mention parsed."""
    if isinstance(message, AlertMessage):
        content = f"**{discord_escape(message.rule_id)}**: {discord_escape(title_of(message))}"
        embeds = [_discord_alert_embed(message, _EmbedBudget())]
    elif isinstance(message, Digest):
        content, embeds = _discord_digest(message)
    else:
        content = discord_escape(one_line(message.summary))
        embeds = [_discord_notice_embed(message)]
    return {
        "content": truncate(content, DISCORD_CONTENT_CHARS),
        "embeds": embeds,
        "allowed_mentions": DISCORD_NO_MENTIONS,
    }


def _discord_alert_embed(alert: AlertMessage, budget: _EmbedBudget) -> dict[str, Any]:
    article, match = alert.article, alert.match
    extra: dict[str, Any] = {
        "timestamp": iso_utc(article.published or alert.detected_at),
        "footer": {"text": truncate(f"alert {alert.alert_id}", DISCORD_FOOTER_CHARS)},
    }
    if url := link_url(article.url):
        extra["url"] = url
    summary = discord_escape(truncate(article.summary.strip(), 1500))
    embed = _discord_embed(budget, discord_escape(title_of(alert)), summary, _BLUE, **extra)
    rule = discord_escape(alert.rule_id)
    if alert.rule_description:
        rule += f": {discord_escape(one_line(alert.rule_description))}"
    fields = [
        _discord_field("Rule", rule, inline=True),
        _discord_field("Score", f"{alert.score:g}", inline=True),
        _discord_field("Feed", discord_escape(article.feed.title or article.feed.id), inline=True),
    ]
    fields += [
        _discord_field(
            f"{discord_escape(hit.term)} ({hit.field})",
            discord_escape(truncate(one_line(hit.snippet), SNIPPET_CHARS)),
        )
        for hit in match.keywords
    ]
    if match.actors:
        lines = [
            f"**{discord_escape(hit.name)}**: {discord_escape(', '.join(hit.mentions))}"
            for hit in match.actors
        ]
        fields.append(_discord_field("Actors", fit_lines(lines, DISCORD_FIELD_VALUE_CHARS)))
    _add_fields(embed, fields, budget)
    return embed


def _discord_digest_field(alert: AlertMessage) -> dict[str, Any]:
    value = f"score {alert.score:g}"
    if url := link_url(alert.article.url):
        value = f"[open]({markdown_url(url)}) · {value}"
    if alert.match.keywords:
        value += " · " + discord_escape(truncate(terms_of(alert), 200))
    return _discord_field(discord_escape(truncate(title_of(alert), 200)), value)


def _discord_digest(digest: Digest) -> tuple[str, list[dict[str, Any]]]:
    total = len(digest.alerts) + digest.omitted
    budget, shown = _EmbedBudget(), 0
    embeds: list[dict[str, Any]] = []
    for rule_id, alerts in digest.by_rule().items():
        if len(embeds) >= DISCORD_MAX_EMBEDS or budget.left < 200:
            break
        about = discord_escape(one_line(alerts[0].rule_description or ""))
        description = f"{about}\n{len(alerts)} alerts".strip()
        embed = _discord_embed(budget, discord_escape(rule_id), description, _BLUE)
        added = _add_fields(embed, [_discord_digest_field(a) for a in alerts], budget)
        embeds.append(embed)
        shown += added
    content = f"**Digest: {total} alerts** · {iso_utc(digest.created_at)}"
    if total > shown:
        content += f"\n…and {total - shown} more"
    return content, embeds


def _discord_notice_embed(notice: OpsNotice) -> dict[str, Any]:
    budget = _EmbedBudget()
    down = notice.kind is NoticeKind.FEED_DOWN
    title = f"Feed {notice.feed.id} " + ("is down" if down else "has recovered")
    description = discord_escape(truncate(notice.error or "", 2000)) if down else ""
    embed = _discord_embed(
        budget,
        discord_escape(title),
        description,
        _RED if down else _GREEN,
        timestamp=iso_utc(notice.at),
    )
    fields = [
        _discord_field("Feed", discord_escape(notice.feed.title or notice.feed.id), inline=True),
        _discord_field("Failures", str(notice.failures), inline=True),
        _discord_field("URL", link_url(notice.feed.url) or "-"),
    ]
    if notice.since:
        fields.append(_discord_field("Failing since", iso_utc(notice.since) or "", inline=True))
    _add_fields(embed, fields, budget)
    return embed
