"""The email an `Outgoing` message becomes: headers, subject, and text + HTML bodies from the
Jinja2 templates in `templates/`. Pure: the same delivery always gives the same email."""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import jinja2.meta
from jinja2.sandbox import SandboxedEnvironment

from monitor.notify.base import EmailOptions
from monitor.notify.messages import (
    AlertMessage,
    Digest,
    NoticeKind,
    Outgoing,
    iso_utc,
    link_url,
)
from monitor.notify.sample import sample_alert

if TYPE_CHECKING:
    from monitor.notify.email import SmtpSettings

__all__ = [
    "build_message",
    "check_subject_template",
    "default_subject",
    "load_templates",
    "message_id",
    "render_subject",
]

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).with_name("templates")
SUBJECT_PREFIX = "[monitor]"
MAX_SUBJECT_CHARS = 200
MAX_SUBJECT_RULES = 5
# What a subject template may use; digests join their rules and feeds with commas.
SUBJECT_NAMES = frozenset({"rule_id", "title", "score", "kind", "count", "feed_id"})
# RFC 5322 §3.6.4: the left part of a msg-id is a dot-atom; anything else is replaced.
_NOT_ATEXT = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]")
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x85\u2028\u2029]+")


def build_message(message: Outgoing, options: EmailOptions, smtp: SmtpSettings) -> EmailMessage:
    """The email for `message`: multipart/alternative, text then HTML, from the templates.

    Pure: the same delivery always gives the same headers (Message-ID included) and body.
    """
    template, context = _template_context(message)
    text_template, html_template = load_templates()[template]
    mail = EmailMessage()
    mail["From"] = smtp.sender
    mail["To"] = ", ".join(options.to)
    if options.cc:
        mail["Cc"] = ", ".join(options.cc)
    mail["Subject"] = render_subject(message, options.subject)
    # The moment the message is about (detection, digest, notice), not the attempt: a retry
    # rebuilds the very same message.
    mail["Date"] = format_datetime(_as_utc(_moment(message)))
    mail["Message-ID"] = message_id(message.delivery_id, smtp.sender)
    # RFC 3834: machine-generated; keeps out-of-office replies away from the sender.
    mail["Auto-Submitted"] = "auto-generated"
    text, html = text_template.render(context), html_template.render(context)
    # Quoted-printable passes any relay, whether it offers 8BITMIME or not.
    mail.set_content(text, cte="quoted-printable")
    mail.add_alternative(html, subtype="html", cte="quoted-printable")
    mail.set_boundary(_boundary(text, html))
    return mail


def _boundary(*parts: str) -> str:
    # From the content, so that a rebuild is byte for byte the same; "=_" never occurs in
    # quoted-printable text (RFC 2045 §6.7), so the boundary cannot collide with a body.
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    return f"=_monitor_{digest[:32]}"


def message_id(delivery_id: str, sender: str) -> str:
    """`<delivery_id@sender-domain>`: the same on every retry, so a re-sent email is known."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "feed-monitor.invalid"
    return f"<{_NOT_ATEXT.sub('-', delivery_id)}@{_NOT_ATEXT.sub('-', domain)}>"


def render_subject(message: Outgoing, template: str | None) -> str:
    """The subject: `template` rendered in a sandbox, else the default; one line, capped."""
    subject = default_subject(message)
    if template is not None:
        try:
            subject = _subject_template(template).render(_subject_context(message))
        except Exception as exc:
            # A user template may fail in any way (1/0, a sandbox refusal, a huge range); a
            # broken subject must not lose the alert: fall back to the default one.
            log.warning(
                "subject template failed, using the default subject: %s",
                exc,
                extra={"delivery_id": message.delivery_id},
            )
    return _one_line(subject)


def default_subject(message: Outgoing) -> str:
    """`[monitor] rule: title`, `[monitor] digest: 3 alerts (rules a, b)`, or a feed notice."""
    if isinstance(message, AlertMessage):
        return f"{SUBJECT_PREFIX} {message.rule_id}: {message.article.title}"
    if isinstance(message, Digest):
        rules = list(message.by_rule())
        shown = ", ".join(rules[:MAX_SUBJECT_RULES])
        if len(rules) > MAX_SUBJECT_RULES:
            shown += f" +{len(rules) - MAX_SUBJECT_RULES} more"
        count = _digest_total(message)
        return (
            f"{SUBJECT_PREFIX} digest: {count} {_plural(count, 'alert')}"
            f" ({_plural(len(rules), 'rule')} {shown})"
        )
    state = "is down" if message.kind is NoticeKind.FEED_DOWN else "recovered"
    return f"{SUBJECT_PREFIX} feed {message.feed.id} {state}"


def check_subject_template(source: str) -> None:
    """Raise ValueError when `source` is not a valid subject template or uses a name it will not
    get (for config loading: at send time a broken subject falls back to the default)."""
    environment = _subject_environment()
    try:
        names = jinja2.meta.find_undeclared_variables(environment.parse(source))
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"subject template, line {exc.lineno}: {exc.message}") from None
    unknown = sorted(names - SUBJECT_NAMES)
    if unknown:
        raise ValueError(
            f"subject template: unknown name {', '.join(unknown)}: "
            f"use {', '.join(sorted(SUBJECT_NAMES))}"
        )
    strict = SandboxedEnvironment(autoescape=False, undefined=jinja2.StrictUndefined)
    try:  # once for a sample alert: `title.nmae` or `1 / 0` is found now, not at each send
        strict.from_string(source).render(_subject_context(sample_alert()))
    except Exception as exc:  # the template's own failure, whatever it is
        reason = (
            str(exc) if isinstance(exc, jinja2.TemplateError) else f"{type(exc).__name__}: {exc}"
        )
        raise ValueError(f"subject template fails for a sample alert: {reason}") from None


def _template_context(message: Outgoing) -> tuple[str, dict[str, Any]]:
    if isinstance(message, AlertMessage):
        return "alert", {"alert": message}
    if isinstance(message, Digest):
        return "digest", {
            "digest": message,
            "groups": message.by_rule(),
            "total": _digest_total(message),
        }
    return "notice", {"notice": message, "down": message.kind is NoticeKind.FEED_DOWN}


def _subject_context(message: Outgoing) -> dict[str, Any]:
    if isinstance(message, AlertMessage):
        return {
            "rule_id": message.rule_id,
            "title": message.article.title,
            "score": message.score,
            "kind": "alert",
            "count": 1,
            "feed_id": message.article.feed.id,
        }
    if isinstance(message, Digest):
        alerts = message.alerts
        return {
            "rule_id": ", ".join(message.by_rule()),
            "title": alerts[0].article.title if alerts else "",
            "score": max((alert.score for alert in alerts), default=0.0),
            "kind": "digest",
            "count": _digest_total(message),
            "feed_id": ", ".join(dict.fromkeys(alert.article.feed.id for alert in alerts)),
        }
    return {
        "rule_id": "",
        "title": message.summary,
        "score": 0.0,
        "kind": message.kind.value,
        "count": message.failures,
        "feed_id": message.feed.id,
    }


def _digest_total(digest: Digest) -> int:
    return len(digest.alerts) + digest.omitted


def _moment(message: Outgoing) -> datetime:
    if isinstance(message, AlertMessage):
        return message.detected_at
    if isinstance(message, Digest):
        return message.created_at
    return message.at


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _one_line(subject: str) -> str:
    # CR/LF in a header would start a new header (injection); the email package would refuse.
    flat = " ".join(_LINE_BREAKS.sub(" ", subject).split())
    if len(flat) > MAX_SUBJECT_CHARS:
        flat = flat[: MAX_SUBJECT_CHARS - 1].rstrip() + "…"
    return flat or SUBJECT_PREFIX


def _plural(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"


def _format_score(score: float) -> str:
    return f"{score:g}"


def _environment(*, html: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # templates ship with the package: no stat() per render
    )
    env.filters.update(iso=iso_utc, href=link_url, score=_format_score)
    return env


@functools.cache
def load_templates() -> Mapping[str, tuple[jinja2.Template, jinja2.Template]]:
    """Every template, read once (file I/O happens here, at notifier construction)."""
    text, html = _environment(html=False), _environment(html=True)
    return {
        name: (text.get_template(f"{name}.txt.j2"), html.get_template(f"{name}.html.j2"))
        for name in ("alert", "digest", "notice")
    }


@functools.cache
def _subject_environment() -> SandboxedEnvironment:
    # Sandboxed: the subject comes from monitor.yaml and must not reach Python internals.
    return SandboxedEnvironment(autoescape=False)


@functools.lru_cache(maxsize=32)
def _subject_template(source: str) -> jinja2.Template:
    return _subject_environment().from_string(source)
