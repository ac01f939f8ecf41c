"""The email notifier: submits the email of an `Outgoing` message (`email_message.py`) over SMTP.

Owns the SMTP settings and the mapping of SMTP and network failures to
`TransientDeliveryError` / `PermanentDeliveryError`.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.headerregistry import Address, AddressHeader
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Literal, Protocol

import aiosmtplib

from monitor.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from monitor.notify.base import EmailOptions
from monitor.notify.email_message import build_message, load_templates
from monitor.notify.messages import Outgoing

__all__ = ["EmailNotifier", "SmtpSettings", "SmtpSource"]

log = logging.getLogger(__name__)

Security = Literal["starttls", "tls", "none"]


class _Secret(Protocol):
    def get_secret_value(self) -> str: ...


class SmtpSource(Protocol):
    """The `MONITOR_SMTP_*` settings (`monitor.config.Settings` has them), read by
    `SmtpSettings.from_settings`: notify does not import config."""

    @property
    def smtp_host(self) -> str | None: ...
    @property
    def smtp_from(self) -> str | None: ...
    @property
    def smtp_username(self) -> str | None: ...
    @property
    def smtp_password(self) -> _Secret | None: ...
    @property
    def smtp_security(self) -> Security: ...
    @property
    def smtp_effective_port(self) -> int: ...


DEFAULT_TIMEOUT = 30.0


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
    def from_settings(cls, settings: SmtpSource) -> SmtpSettings:
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
        load_templates()  # read the template files now, not on the event loop later

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
