"""The request body of each webhook format (json, slack, discord, teams, template), per message.

`json` is the contract of DESIGN.md. The chat formats follow each service's incoming-webhook
shape and limits, and escape article text so that it can neither ping a channel nor inject
links. `template` renders a user's Jinja2 file in a sandbox.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from monitor.errors import ConfigError, PermanentDeliveryError
from monitor.notify.base import WebhookOptions
from monitor.notify.messages import (
    AlertMessage,
    Digest,
    NoticeKind,
    OpsNotice,
    Outgoing,
    alert_payload,
    iso_utc,
)

__all__ = [
    "JSON_CONTENT_TYPE",
    "body_content_type",
    "discord_payload",
    "json_payload",
    "load_template",
    "render_body",
    "render_template",
    "slack_payload",
    "teams_payload",
    "template_context",
]

JSON_CONTENT_TYPE = "application/json"
ELLIPSIS = "…"
_SNIPPET_CHARS = 300  # one matched term's snippet, in every chat format
_LINE_CHARS = 400  # one line of a digest


def render_body(
    message: Outgoing, options: WebhookOptions, template: jinja2.Template | None
) -> bytes:
    """The request body of `message` in `options.format`.

    Raises PermanentDeliveryError when a template fails to render (it will fail every time).
    """
    if options.format == "template":
        if template is None:
            raise PermanentDeliveryError("format template, but no template was loaded")
        return render_template(template, message).encode("utf-8")
    renderers = {
        "json": json_payload,
        "slack": slack_payload,
        "discord": discord_payload,
        "teams": teams_payload,
    }
    return _json_bytes(renderers[options.format](message))


def body_content_type(options: WebhookOptions) -> str:
    """The Content-Type of the bodies `render_body` makes for these options."""
    return options.content_type if options.format == "template" else JSON_CONTENT_TYPE


def _json_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# ---- json: the contract ------------------------------------------------------------------
def json_payload(message: Outgoing) -> dict[str, Any]:
    """The `format: json` document: DESIGN.md's payload for an alert; a digest or a notice."""
    if isinstance(message, AlertMessage):
        return alert_payload(message)
    if isinstance(message, Digest):
        return {
            "type": "digest",
            "id": message.delivery_id,
            "created_at": iso_utc(message.created_at),
            "alerts": [alert_payload(alert) for alert in message.alerts],
            "omitted": message.omitted,
        }
    return {
        "type": message.kind.value,
        "id": message.delivery_id,
        "at": iso_utc(message.at),
        "feed": {"id": message.feed.id, "title": message.feed.title, "url": message.feed.url},
        "failures": message.failures,
        "error": message.error,
        "since": iso_utc(message.since),
    }


# ---- text helpers shared by the chat formats -----------------------------------------------
def _one_line(text: str) -> str:
    return " ".join(text.split())


def _truncate(text: str, limit: int) -> str:
    """`text`, cut to at most `limit` characters with an ellipsis when it is longer."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    return text[: limit - 1].rstrip() + ELLIPSIS


def _fit_lines(lines: list[str], limit: int) -> str:
    """As many whole lines as fit in `limit` characters, then an ellipsis line if any were cut."""
    joined = "\n".join(lines)
    if len(joined) <= limit:
        return joined
    kept: list[str] = []
    size = 0
    for line in lines:
        needed = len(line) + (1 if kept else 0)
        if size + needed > limit - 2:  # leave room for "\n…"
            break
        kept.append(line)
        size += needed
    return "\n".join([*kept, ELLIPSIS]) if kept else _truncate(lines[0], limit)


def _title_of(alert: AlertMessage) -> str:
    return _one_line(alert.article.title) or alert.article.url or alert.article.key


def _terms_of(alert: AlertMessage) -> str:
    return ", ".join(dict.fromkeys(hit.term for hit in alert.match.keywords))


def _markdown_url(url: str) -> str:
    """A URL safe inside a Markdown `[label](url)`: parentheses and spaces percent-encoded."""
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


# ---- slack ------------------------------------------------------------------------------------
SLACK_MAX_BLOCKS = 50
SLACK_SECTION_CHARS = 3000
# Slack refuses long block sets well below 50 full sections ("msg_blocks_too_long").
SLACK_MESSAGE_CHARS = 12000


def slack_escape(text: str) -> str:
    """Slack's three control characters as entities: `<!channel>` in an article stays text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str | None, label: str) -> str:
    if not url:
        return slack_escape(label)
    return f"<{slack_escape(url).replace('|', '%7C')}|{slack_escape(label)}>"


def _slack_section(text: str) -> dict[str, Any]:
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": _truncate(text, SLACK_SECTION_CHARS)},
    }


def _slack_context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _truncate(text, 3000)}]}


def slack_payload(message: Outgoing) -> dict[str, Any]:
    """A Slack incoming-webhook message: a plain fallback `text` and Block Kit `blocks`."""
    if isinstance(message, AlertMessage):
        text = f"{message.rule_id}: {_title_of(message)}"
        blocks = _slack_alert_blocks(message)
    elif isinstance(message, Digest):
        text = f"{len(message.alerts) + message.omitted} alerts"
        blocks = _slack_digest_blocks(message)
    else:
        text = message.summary
        blocks = [_slack_section(_slack_notice_text(message))]
    return {"text": slack_escape(_truncate(_one_line(text), 300)), "blocks": blocks}


def _slack_alert_blocks(alert: AlertMessage) -> list[dict[str, Any]]:
    article, match = alert.article, alert.match
    rule = f"Rule `{slack_escape(alert.rule_id)}`"
    if alert.rule_description:
        rule += f" ({slack_escape(_one_line(alert.rule_description))})"
    headline = _slack_link(article.url, _truncate(_title_of(alert), 300))
    blocks = [_slack_section(f"*{headline}*\n{rule} · score {alert.score:g}")]
    if match.keywords:
        lines = [
            f"• *{slack_escape(hit.term)}* in {hit.field}: "
            + slack_escape(_truncate(_one_line(hit.snippet), _SNIPPET_CHARS))
            for hit in match.keywords
        ]
        blocks.append(_slack_section(_fit_lines(["*Matched terms*", *lines], SLACK_SECTION_CHARS)))
    if match.actors:
        lines = [
            f"• *{slack_escape(hit.name)}* (`{slack_escape(hit.id)}`): "
            + slack_escape(_truncate(", ".join(hit.mentions), _SNIPPET_CHARS))
            for hit in match.actors
        ]
        blocks.append(_slack_section(_fit_lines(["*Actors*", *lines], SLACK_SECTION_CHARS)))
    feed = slack_escape(article.feed.title or article.feed.id)
    published = iso_utc(article.published) or "unknown"
    blocks.append(_slack_context(f"{feed} · published {published} · alert {alert.alert_id}"))
    return blocks


def _slack_digest_line(alert: AlertMessage) -> str:
    line = f"• {_slack_link(alert.article.url, _truncate(_title_of(alert), 150))}"
    line += f" · score {alert.score:g}"
    if alert.match.keywords:
        line += " · " + slack_escape(_truncate(_terms_of(alert), 150))
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
    error = slack_escape(_truncate(_one_line(notice.error or "unknown error"), 1000))
    return (
        f":red_circle: *Feed `{slack_escape(notice.feed.id)}` is down* ({feed})\n"
        f"{notice.failures} failures in a row: {error}{since}"
    )


# ---- discord ----------------------------------------------------------------------------------
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
        "name": _truncate(name, DISCORD_FIELD_NAME_CHARS) or "-",
        "value": _truncate(value, DISCORD_FIELD_VALUE_CHARS) or "-",
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
    title = _truncate(title, DISCORD_TITLE_CHARS)
    footer = str(extra.get("footer", {}).get("text", ""))
    room = budget.left - len(title) - len(footer)
    description = _truncate(description, min(DISCORD_DESCRIPTION_CHARS, room))
    budget.take(title, description, footer)
    embed: dict[str, Any] = {"title": title, "color": color, **extra}
    if description:  # Discord refuses an empty description
        embed["description"] = description
    return embed


def discord_payload(message: Outgoing) -> dict[str, Any]:
    """A Discord execute-webhook body: `content`, `embeds`, and no mention parsed."""
    if isinstance(message, AlertMessage):
        content = f"**{discord_escape(message.rule_id)}**: {discord_escape(_title_of(message))}"
        embeds = [_discord_alert_embed(message, _EmbedBudget())]
    elif isinstance(message, Digest):
        content, embeds = _discord_digest(message)
    else:
        content = discord_escape(_one_line(message.summary))
        embeds = [_discord_notice_embed(message)]
    return {
        "content": _truncate(content, DISCORD_CONTENT_CHARS),
        "embeds": embeds,
        "allowed_mentions": DISCORD_NO_MENTIONS,
    }


def _discord_alert_embed(alert: AlertMessage, budget: _EmbedBudget) -> dict[str, Any]:
    article, match = alert.article, alert.match
    extra: dict[str, Any] = {
        "timestamp": iso_utc(article.published or alert.detected_at),
        "footer": {"text": _truncate(f"alert {alert.alert_id}", DISCORD_FOOTER_CHARS)},
    }
    if article.url:
        extra["url"] = article.url
    summary = discord_escape(_truncate(article.summary.strip(), 1500))
    embed = _discord_embed(budget, discord_escape(_title_of(alert)), summary, _BLUE, **extra)
    rule = discord_escape(alert.rule_id)
    if alert.rule_description:
        rule += f": {discord_escape(_one_line(alert.rule_description))}"
    fields = [
        _discord_field("Rule", rule, inline=True),
        _discord_field("Score", f"{alert.score:g}", inline=True),
        _discord_field("Feed", discord_escape(article.feed.title or article.feed.id), inline=True),
    ]
    fields += [
        _discord_field(
            f"{discord_escape(hit.term)} ({hit.field})",
            discord_escape(_truncate(_one_line(hit.snippet), _SNIPPET_CHARS)),
        )
        for hit in match.keywords
    ]
    if match.actors:
        lines = [
            f"**{discord_escape(hit.name)}**: {discord_escape(', '.join(hit.mentions))}"
            for hit in match.actors
        ]
        fields.append(_discord_field("Actors", _fit_lines(lines, DISCORD_FIELD_VALUE_CHARS)))
    _add_fields(embed, fields, budget)
    return embed


def _discord_digest_field(alert: AlertMessage) -> dict[str, Any]:
    value = f"score {alert.score:g}"
    if alert.article.url:
        value = f"[open]({_markdown_url(alert.article.url)}) · {value}"
    if alert.match.keywords:
        value += " · " + discord_escape(_truncate(_terms_of(alert), 200))
    return _discord_field(discord_escape(_truncate(_title_of(alert), 200)), value)


def _discord_digest(digest: Digest) -> tuple[str, list[dict[str, Any]]]:
    total = len(digest.alerts) + digest.omitted
    budget, shown = _EmbedBudget(), 0
    embeds: list[dict[str, Any]] = []
    for rule_id, alerts in digest.by_rule().items():
        if len(embeds) >= DISCORD_MAX_EMBEDS or budget.left < 200:
            break
        about = discord_escape(_one_line(alerts[0].rule_description or ""))
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
    description = discord_escape(_truncate(notice.error or "", 2000)) if down else ""
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
        _discord_field("URL", notice.feed.url),
    ]
    if notice.since:
        fields.append(_discord_field("Failing since", iso_utc(notice.since) or "", inline=True))
    _add_fields(embed, fields, budget)
    return embed


# ---- teams --------------------------------------------------------------------------------------
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
        if message.article.url:
            actions.append(
                {"type": "Action.OpenUrl", "title": "Open article", "url": message.article.url}
            )
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
        _text_block(teams_escape(_truncate(_title_of(alert), 300)), size="Medium", weight="Bolder"),
        _fact_set(
            [
                ("Rule", teams_escape(alert.rule_id)),
                ("About", teams_escape(_one_line(alert.rule_description or ""))),
                ("Score", f"{alert.score:g}"),
                ("Feed", teams_escape(article.feed.title or article.feed.id)),
                ("Published", iso_utc(article.published) or ""),
                ("Actors", teams_escape(_truncate(actors, 1000))),
            ]
        ),
    ]
    for hit in match.keywords[:20]:
        snippet = teams_escape(_truncate(_one_line(hit.snippet), _SNIPPET_CHARS))
        body.append(
            _text_block(f"**{teams_escape(hit.term)}** ({hit.field}): {snippet}", isSubtle=True)
        )
    if article.summary.strip():
        body.append(_text_block(teams_escape(_truncate(_one_line(article.summary), 1000))))
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
    title = teams_escape(_truncate(_title_of(alert), 200))
    line = f"[{title}]({_markdown_url(alert.article.url)})" if alert.article.url else title
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
                ("URL", notice.feed.url),
                ("Failures", str(notice.failures)),
                ("Since", iso_utc(notice.since) or ""),
                ("Error", teams_escape(_truncate(_one_line(notice.error or ""), 1000))),
            ]
        ),
    ]


# ---- template ----------------------------------------------------------------------------------
def load_template(path: Path) -> jinja2.Template:
    """A user's Jinja2 template, compiled in a sandbox. Raises ConfigError with file and line.

    Undefined names are errors (StrictUndefined) and nothing is auto-escaped: the output is
    JSON or text, and the template escapes with `tojson` itself.
    """
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError("the template is not UTF-8 text", path=path) from exc
    except OSError as exc:
        raise ConfigError("cannot read the template", path=path) from exc
    environment = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
    environment.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": False}
    try:
        code = environment.compile(source, name=path.name, filename=str(path))
    except jinja2.TemplateSyntaxError as exc:
        # Not chained: the error's own text repeats the location over several lines.
        message = f"template syntax error: {exc.message}"
        raise ConfigError(message, path=path, line=exc.lineno) from None
    return environment.template_class.from_code(environment, code, environment.make_globals(None))


def template_context(message: Outgoing) -> dict[str, Any]:
    """What a template sees: `kind` and, as the json format has them, `alert`, `alerts`,
    `digest` and `notice` (None, or empty `alerts`, where they do not apply)."""
    payload = json_payload(message)
    context: dict[str, Any] = {"alert": None, "alerts": [], "digest": None, "notice": None}
    if isinstance(message, AlertMessage):
        return context | {"kind": "alert", "alert": payload, "alerts": [payload]}
    if isinstance(message, Digest):
        return context | {"kind": "digest", "alerts": payload["alerts"], "digest": payload}
    return context | {"kind": message.kind.value, "notice": payload}


def render_template(template: jinja2.Template, message: Outgoing) -> str:
    """The template's output for `message`; PermanentDeliveryError naming file and line."""
    try:
        return template.render(template_context(message))
    except Exception as exc:  # any failure is the template's own (undefined, unsafe, type)
        where = template.filename or template.name or "template"
        line = _template_line(exc.__traceback__, template.filename)
        location = where if line is None else f"{where}:{line}"
        reason = (
            str(exc) if isinstance(exc, jinja2.TemplateError) else f"{type(exc).__name__}: {exc}"
        )
        raise PermanentDeliveryError(f"{location}: template error: {reason}") from exc


def _template_line(trace: TracebackType | None, filename: str | None) -> int | None:
    """The template line the error came from: Jinja rewrites tracebacks so that the template's
    frames carry its file name and line."""
    line = None
    while trace is not None:
        if filename and trace.tb_frame.f_code.co_filename == filename:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line
