"""A real SMTP server on 127.0.0.1 for tests: aiosmtpd's protocol, served in the test's loop.

It records every message (envelope and parsed email), answers scripted replies (451 to the next
DATA, 550 to RCPT for one address, a dropped connection), can require AUTH, and can speak
STARTTLS or implicit TLS with a certificate from a `trustme` CA that `client_tls_context`
trusts. `stop()` then `start()` brings it back on the same port.

    async with SmtpServer(tls="starttls", auth=("user", "secret")) as server:
        server.script("DATA", "451 4.3.0 Try again later")
        ...
        [received] = await server.wait_for(1)
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import warnings
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from types import TracebackType
from typing import Any, Literal

import trustme
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

__all__ = ["DISCONNECT", "Received", "SmtpServer", "TlsMode"]

TlsMode = Literal["none", "starttls", "tls"]
HOST = "127.0.0.1"
# A scripted "reply" that drops the connection instead of answering.
DISCONNECT = "disconnect"
SCRIPTABLE = frozenset({"MAIL", "RCPT", "DATA", "AUTH"})


@dataclass(frozen=True)
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes
    tls: bool  # the session was encrypted (STARTTLS or implicit TLS)
    login: str | None  # the AUTH user, when the client logged in


@dataclass
class _Reply:
    status: str
    address: str | None  # RCPT / MAIL: only for this address
    times: int | None  # None: every time


@functools.cache
def _authority() -> tuple[trustme.CA, trustme.LeafCert]:
    """One CA and server certificate per test process (key generation is the slow part)."""
    ca = trustme.CA()
    return ca, ca.issue_cert(HOST, "localhost")


def client_tls_context() -> ssl.SSLContext:
    """A client context that trusts only the test CA (hostname checked)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _authority()[0].configure_trust(context)
    return context


def _server_tls_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _authority()[1].configure_cert(context)
    return context


class SmtpServer:
    """An SMTP server on 127.0.0.1, a free port, in the running event loop."""

    def __init__(
        self,
        *,
        tls: TlsMode = "none",
        auth: tuple[str, str] | None = None,
        port: int = 0,
    ) -> None:
        self.tls = tls
        self.auth = auth
        self.host = HOST
        self.port = port
        self.messages: list[Received] = []
        self.mail_attempts: list[str] = []  # every MAIL FROM, accepted or not
        self.auth_attempts = 0
        self._replies: dict[str, list[_Reply]] = {}
        self._arrived = asyncio.Condition()
        self._server: asyncio.Server | None = None
        self._sessions: list[SMTP] = []

    # ---- lifecycle ------------------------------------------------------------------------
    async def __aenter__(self) -> SmtpServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        """Listen (again) on `port`; the first start picks a free one."""
        if self._server is not None:
            return
        loop = asyncio.get_running_loop()
        tls = _server_tls_context() if self.tls == "tls" else None
        self._server = await loop.create_server(self._session, self.host, self.port, ssl=tls)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop every open session; connections are refused until `start`."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        handlers = [s._handler_coroutine for s in self._sessions if s._handler_coroutine]
        for session in self._sessions:
            _drop(session.transport)
            _drop(session._original_transport)  # the plain one under STARTTLS
            # A session dropped mid-handshake would wait for a read that never ends.
            if session._handler_coroutine is not None:
                session._handler_coroutine.cancel()
            if session._timeout_handle is not None:
                session._timeout_handle.cancel()
        await server.wait_closed()
        await asyncio.gather(*handlers, return_exceptions=True)
        self._sessions.clear()

    @property
    def client_tls_context(self) -> ssl.SSLContext:
        return client_tls_context()

    # ---- scripting and waiting ------------------------------------------------------------
    def script(
        self, command: str, status: str, *, address: str | None = None, times: int | None = 1
    ) -> None:
        """Answer `command` (MAIL, RCPT, DATA, AUTH) with `status` (e.g. "451 4.3.0 Busy", or
        DISCONNECT) the next `times` times (None: always), only for `address` if given."""
        command = command.upper()
        if command not in SCRIPTABLE:
            raise ValueError(f"cannot script {command}: use one of {sorted(SCRIPTABLE)}")
        self._replies.setdefault(command, []).append(_Reply(status, address, times))

    async def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[Received]:
        """The first `count` messages, once they have arrived (TimeoutError after `timeout`)."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.messages) >= count)
        return self.messages[:count]

    # ---- the protocol ---------------------------------------------------------------------
    def _session(self) -> SMTP:
        with warnings.catch_warnings():
            # aiosmtpd warns about AUTH without STARTTLS: offered in clear here on purpose.
            warnings.simplefilter("ignore")
            session = SMTP(
                _Handler(self),
                hostname="smtp.test",
                loop=asyncio.get_running_loop(),
                tls_context=_server_tls_context() if self.tls == "starttls" else None,
                require_starttls=self.tls == "starttls",
                auth_required=self.auth is not None,
                # Offers AUTH in clear when it wants a login without STARTTLS (implicit TLS is
                # TLS too, but aiosmtpd only counts STARTTLS); offers none without `auth`.
                auth_require_tls=self.auth is None or self.tls == "starttls",
                authenticator=self._authenticate if self.auth is not None else None,
            )
        self._sessions.append(session)
        return session

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert self.auth is not None and isinstance(data, LoginPassword)
        user, password = (value.encode() for value in self.auth)
        if (data.login, data.password) == (user, password):
            return AuthResult(success=True, auth_data=data)
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535

    def _scripted(self, command: str, address: str | None = None) -> str | None:
        for reply in self._replies.get(command, []):
            if reply.address is not None and reply.address != address:
                continue
            if reply.times is not None:
                reply.times -= 1
                if reply.times <= 0:
                    self._replies[command].remove(reply)
            return reply.status
        return None

    async def _record(self, server: SMTP, session: Session, envelope: Envelope) -> int:
        raw = envelope.original_content or b""
        message = message_from_bytes(raw, policy=default_policy)
        assert isinstance(message, EmailMessage) and envelope.mail_from is not None
        transport = server.transport
        auth = session.auth_data if session.authenticated else None
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        received = Received(
            mail_from=envelope.mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            message=message,
            raw=raw,
            tls=transport is not None and transport.get_extra_info("ssl_object") is not None,
            login=login,
        )
        async with self._arrived:
            self.messages.append(received)
            self._arrived.notify_all()
        return len(self.messages)


class _Handler:
    """aiosmtpd hooks: a scripted reply when there is one, else accept and record."""

    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def handle_AUTH(
        self, server: SMTP, session: Session, envelope: Envelope, args: list[str]
    ) -> Any:
        self.owner.auth_attempts += 1
        return _answer(server, self.owner._scripted("AUTH")) or MISSING

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.owner.mail_attempts.append(address)
        scripted = _answer(server, self.owner._scripted("MAIL", address))
        if scripted:
            return scripted
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        scripted = _answer(server, self.owner._scripted("RCPT", address))
        if scripted:
            return scripted
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        scripted = _answer(server, self.owner._scripted("DATA"))
        if scripted:
            return scripted
        number = await self.owner._record(server, session, envelope)
        return f"250 2.0.0 Ok: queued as TEST{number:04d}"


def _answer(server: SMTP, status: str | None) -> str | None:
    if status == DISCONNECT:
        _drop(server.transport)
        # aiosmtpd ends the session quietly on a cancelled command (as on a reset mid-DATA).
        raise asyncio.CancelledError
    return status


def _drop(transport: asyncio.BaseTransport | None) -> None:
    """Close at once, without a TLS close_notify exchange or flushing."""
    if isinstance(transport, asyncio.Transport):
        transport.abort()
    elif transport is not None:
        transport.close()
