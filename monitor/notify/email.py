"""The email notifier: renders an `Outgoing` message as text + HTML and submits it over SMTP.

Owns the Jinja2 templates in `templates/`, the subject line, and the mapping of SMTP and
network failures to `TransientDeliveryError` / `PermanentDeliveryError`.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import logging
import re
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address, AddressHeader
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import aiosmtplib
import jinja2
import jinja2.meta
from jinja2.sandbox import SandboxedEnvironment

from monitor.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from monitor.notify.base import EmailOptions
from monitor.notify.messages import AlertMessage, Digest, NoticeKind, Outgoing, iso_utc

if TYPE_CHECKING:
    from monitor.config.settings import Settings

__all__ = [
    "EmailNotifier",
    "SmtpSettings",
    "build_message",
    "check_subject_template",
    "default_subject",
    "message_id",
    "render_subject",
]

log = logging.getLogger(__name__)

Security = Literal["starttls", "tls", "none"]

TEMPLATES = Path(__file__).with_name("templates")
SUBJECT_PREFIX = "[monitor]"
MAX_SUBJECT_CHARS = 200
MAX_SUBJECT_RULES = 5
# What a subject template may use; digests join their rules and feeds with commas.
SUBJECT_NAMES = frozenset({"rule_id", "title", "score", "kind", "count", "feed_id"})
DEFAULT_TIMEOUT = 30.0
# RFC 5322 §3.6.4: the left part of a msg-id is a dot-atom; anything else is replaced.
_NOT_ATEXT = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]")
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x85\u2028\u2029]+")
_LINK_SCHEMES = frozenset({"http", "https"})


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Where and how to submit mail. The password never shows in `repr()`."""

    host: str
    port: int
    security: Security
    sender: str  # the From header: "monitor@example.org" or "Feed Monitor <monitor@example.org>"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT  # seconds, for the connection and for each command
    tls_context: ssl.SSLContext | None = None  # None: the system's CAs, hostname verified

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpSettings:
        """Build from `MONITOR_SMTP_*`; ValueError names the variable that is missing."""
        if not settings.smtp_host:
            raise ValueError("MONITOR_SMTP_HOST is not set: email notifiers need an SMTP server")
        if not settings.smtp_from:
            raise ValueError("MONITOR_SMTP_FROM is not set: email notifiers need a From address")
        if "@" not in parseaddr(settings.smtp_from)[1]:
            raise ValueError(f'MONITOR_SMTP_FROM "{settings.smtp_from}" is not an email address')
        password = settings.smtp_password
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_effective_port,
            security=settings.smtp_security,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=password.get_secret_value() if password is not None else None,
        )

    @property
    def address(self) -> str:
        """`host:port`, for messages."""
        return f"{self.host}:{self.port}"


# ---- rendering ------------------------------------------------------------------------------
def build_message(message: Outgoing, options: EmailOptions, smtp: SmtpSettings) -> EmailMessage:
    """The email for `message`: multipart/alternative, text then HTML, from the templates.

    Pure: the same delivery always gives the same headers (Message-ID included) and body.
    """
    template, context = _template_context(message)
    text_template, html_template = _templates()[template]
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


def _safe_href(url: str | None) -> str | None:
    """Only http(s) links: a `javascript:` URL stays text even though it is escaped."""
    if not url:
        return None
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in _LINK_SCHEMES else None


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
    env.filters.update(iso=iso_utc, href=_safe_href, score=_format_score)
    return env


@functools.cache
def _templates() -> Mapping[str, tuple[jinja2.Template, jinja2.Template]]:
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


# ---- sending --------------------------------------------------------------------------------
class _StartTlsUnavailable(Exception):
    """The server did not offer STARTTLS, which `security: starttls` requires."""


class EmailNotifier:
    """Sends each message as one email through the configured SMTP server."""

    def __init__(self, notifier_id: str, options: EmailOptions, smtp: SmtpSettings) -> None:
        self._id = notifier_id
        self._options = options
        self._smtp = smtp
        self._closed = False
        _templates()  # read the template files now, not on the event loop later

    @property
    def id(self) -> str:
        return self._id

    @property
    def concurrency(self) -> int:
        return self._options.concurrency

    async def send(self, message: Outgoing) -> str:
        """Submit `message`; return the server's answer, e.g. `250 2.0.0 Ok: queued as 4F2`."""
        if self._closed:
            raise RuntimeError(f"email notifier {self._id} is closed")
        mail = build_message(message, self._options, self._smtp)
        refused, answer = await _submit(mail, self._smtp)
        if refused:
            log.warning(
                "some recipients were refused",
                extra={
                    "notifier_id": self._id,
                    "delivery_id": message.delivery_id,
                    "refused": ", ".join(refused),
                },
            )
            return f"250 {answer}; refused: {_describe_refused(refused)}"
        return f"250 {answer}"

    async def aclose(self) -> None:
        # Nothing stays open between sends; this only refuses later ones.
        self._closed = True


async def _submit(mail: EmailMessage, smtp: SmtpSettings) -> tuple[dict[str, str], str]:
    """Send `mail` over a new connection: (refused recipients -> reply, DATA answer).

    One connection per email: alerts are minutes apart and servers drop idle sessions after a
    few minutes (RFC 5321 §4.5.3.2.7), so a kept connection would mostly be a stale one; a
    fresh one also never carries the state of a failed transaction into the next.
    """
    step = "connect"
    client: aiosmtplib.SMTP | None = None
    try:
        client = _client(smtp)
        await client.connect()
        if smtp.security == "starttls":
            step = "STARTTLS"
            await _start_tls(client)
        if smtp.username is not None:
            step = "login"
            await client.login(smtp.username, smtp.password or "")
        step = "send"
        sender, recipients = _envelope(mail)
        refused, answer = await client.send_message(mail, sender=sender, recipients=recipients)
        await _quit(client)
    except (aiosmtplib.SMTPException, _StartTlsUnavailable, OSError, ValueError) as exc:
        raise _delivery_error(exc, step, smtp) from _cause(exc, smtp)
    finally:
        if client is not None:
            client.close()
    return {address: str(reply) for address, reply in refused.items()}, answer


def _client(smtp: SmtpSettings) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname=smtp.host,
        port=smtp.port,
        timeout=smtp.timeout,
        use_tls=smtp.security == "tls",
        start_tls=False,  # STARTTLS is done by hand (`_start_tls`), so it can never be skipped
        validate_certs=True,
        tls_context=smtp.tls_context,
    )


async def _start_tls(client: aiosmtplib.SMTP) -> None:
    await client.ehlo()
    # Never fall back to plain text: no STARTTLS, no mail (RFC 3207 §4, and §6 on stripping).
    if not client.supports_extension("starttls"):
        raise _StartTlsUnavailable("the server does not offer STARTTLS")
    await client.starttls()


async def _quit(client: aiosmtplib.SMTP) -> None:
    # The message is accepted already: a failed goodbye changes nothing.
    with contextlib.suppress(aiosmtplib.SMTPException, OSError):
        await client.quit()


def _envelope(mail: EmailMessage) -> tuple[str, list[str]]:
    sender = _addresses(mail["From"])[0]
    return sender, _addresses(mail["To"]) + _addresses(mail["Cc"])


def _addresses(header: AddressHeader | None) -> list[str]:
    if header is None:
        return []
    found: Iterable[Address] = header.addresses
    return [address.addr_spec for address in found]


def _describe_refused(refused: Mapping[str, str]) -> str:
    return ", ".join(f"{address} ({reply})" for address, reply in refused.items())


# ---- failures -------------------------------------------------------------------------------
def _delivery_error(exc: BaseException, step: str, smtp: SmtpSettings) -> DeliveryError:
    """Map what aiosmtplib or the network raised to a delivery error, without secrets.

    A 4xx reply, a refused or lost connection, a timeout or a TLS failure may pass: transient.
    A 5xx reply, a login the server refuses, or a message that cannot be sent: permanent.
    """
    where = f"SMTP server {smtp.address}"
    temporary, text = _reply_failure(exc, step, where) or _other_failure(exc, step, where)
    text = _scrub(text, smtp)
    return TransientDeliveryError(text) if temporary else PermanentDeliveryError(text)


def _reply_failure(exc: BaseException, step: str, where: str) -> tuple[bool, str] | None:
    """(temporary, text) for a failure the server answered with a code, else None."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        replies = {refusal.recipient: refusal for refusal in exc.recipients}
        text = "; ".join(f"{to}: {r.code} {r.message}" for to, r in replies.items())
        temporary = any(_is_temporary(r.code) for r in replies.values())
        return temporary, f"{where} refused every recipient: {text}"
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        text = f"{where} refused {_command(exc, step)}: {exc.code} {exc.message}"
        return _is_temporary(exc.code), text
    return None


def _other_failure(exc: BaseException, step: str, where: str) -> tuple[bool, str]:
    if isinstance(exc, _StartTlsUnavailable):
        # Transient, as for a failed TLS handshake: the server (or someone on the path
        # stripping STARTTLS) is at fault, not our configuration, and a later attempt over a
        # clean path can succeed; a lasting mismatch still ends dead after the retries.
        return True, f"{where} does not offer STARTTLS: refusing to send in clear"
    # Before ValueError: a certificate that fails verification is one too.
    if isinstance(exc, ssl.SSLError) or isinstance(exc.__cause__, ssl.SSLError):
        return True, f"TLS with {where} failed ({step})"
    if isinstance(exc, aiosmtplib.SMTPNotSupported | ValueError):
        return False, f"cannot send through {where}: {exc}"
    if type(exc) is aiosmtplib.SMTPException and step == "login":  # e.g. no AUTH offered
        return False, f"cannot log in to {where}: {exc}"
    if isinstance(exc, TimeoutError):
        return True, f"{where} timed out ({step})"
    return True, f"{where} unreachable or disconnected ({step})"


def _cause(exc: BaseException, smtp: SmtpSettings) -> BaseException | None:
    """The exception to chain: none when it could show a secret, or when the message already
    says all it does (a reply's code and text)."""
    replied = aiosmtplib.SMTPResponseException | aiosmtplib.SMTPRecipientsRefused
    if isinstance(exc, replied | _StartTlsUnavailable):
        return None
    return None if _holds_secret(f"{exc!r} {exc} {exc.__cause__!r}", smtp) else exc


def _is_temporary(code: int) -> bool:
    # RFC 5321 §4.2.1: 4yz is a transient negative completion; anything but 5yz may pass too.
    return not 500 <= code <= 599


def _command(exc: aiosmtplib.SMTPResponseException, step: str) -> str:
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return "the sender (MAIL FROM)"
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
        return f"the recipient {exc.recipient}"
    if isinstance(exc, aiosmtplib.SMTPDataError):
        return "the message (DATA)"
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return "the login"
    if isinstance(exc, aiosmtplib.SMTPConnectResponseError):
        return "the connection"
    return step


def _secrets(smtp: SmtpSettings) -> list[str]:
    """The password and the base64 forms AUTH PLAIN and LOGIN put on the wire."""
    if not smtp.password:
        return []
    user, password = (smtp.username or "").encode(), smtp.password.encode()
    encoded = [base64.b64encode(password), base64.b64encode(b"\0" + user + b"\0" + password)]
    return [smtp.password, *(blob.decode("ascii") for blob in encoded)]


def _holds_secret(text: str, smtp: SmtpSettings) -> bool:
    return any(secret in text for secret in _secrets(smtp))


def _scrub(text: str, smtp: SmtpSettings) -> str:
    for secret in _secrets(smtp):
        text = text.replace(secret, "***")
    return text
