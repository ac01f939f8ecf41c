"""The email notifier: the message it builds, and real sends to a real SMTP server."""

from __future__ import annotations

import asyncio
import logging
import ssl
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import pytest
from pydantic import SecretStr

from monitor.config.settings import Settings
from monitor.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from monitor.models import ActorHit, RuleMatch, TermHit
from monitor.notify.base import EmailOptions
from monitor.notify.email import EmailNotifier, SmtpSettings
from monitor.notify.email_message import build_message, check_subject_template, default_subject
from monitor.notify.messages import (
    AlertMessage,
    ArticleInfo,
    Digest,
    FeedInfo,
    NoticeKind,
    OpsNotice,
    Outgoing,
)
from tests.smtpserver import DISCONNECT, SmtpServer, TlsMode

DETECTED = datetime(2026, 11, 26, 15, 5, tzinfo=UTC)
SENDER = "Feed Monitor <monitor@example.org>"
TO = "analysts@example.org"
CC = "chief@example.org"
OPTIONS = EmailOptions(to=(TO,), cc=(CC,))
USER = "monitor"
PASSWORD = "pA55-w0rd-that-must-not-leak"
TASS = FeedInfo(id="tass", title="TASS", url="https://tass.com/rss/v2.xml")


# ---- builders -------------------------------------------------------------------------------
def make_alert(
    *,
    delivery_id: str = "dlv-1",
    rule_id: str = "caucasus-peace",
    title: str = "Armenia and Azerbaijan sign peace treaty",
    url: str | None = "https://tass.com/politics/1",
    snippet: str = "leaders signed the peace treaty in Washington",
    score: float = 3.0,
) -> AlertMessage:
    article = ArticleInfo(
        key=f"key-{delivery_id}",
        title=title,
        url=url,
        published=datetime(2026, 11, 26, 14, 30, tzinfo=UTC),
        summary="The two countries agreed to normalize relations.",
        authors=("Staff",),
        feed=TASS,
    )
    match = RuleMatch(
        rule_id=rule_id,
        keywords=(TermHit(term="peace treaty", field="title", snippet=snippet),),
        actors=(ActorHit(id="armenia", name="Armenia", mentions=("Yerevan", "Armenian")),),
        score=score,
    )
    return AlertMessage(
        delivery_id=delivery_id,
        alert_id=f"alert-{delivery_id}",
        detected_at=DETECTED,
        rule_id=rule_id,
        rule_description=f"about {rule_id}",
        article=article,
        match=match,
    )


def make_digest(omitted: int = 2) -> Digest:
    alerts = (
        make_alert(delivery_id="a1", rule_id="rule-a", title="First A"),
        make_alert(delivery_id="b1", rule_id="rule-b", title="First B"),
        make_alert(delivery_id="a2", rule_id="rule-a", title="Second A"),
    )
    return Digest(delivery_id="digest-1", created_at=DETECTED, alerts=alerts, omitted=omitted)


def make_notice(kind: NoticeKind = NoticeKind.FEED_DOWN) -> OpsNotice:
    return OpsNotice(
        delivery_id="notice-1",
        kind=kind,
        at=DETECTED,
        feed=TASS,
        failures=5,
        error="HTTP 503 Service Unavailable" if kind is NoticeKind.FEED_DOWN else None,
        since=datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
    )


def smtp_settings(
    port: int = 25,
    *,
    security: TlsMode = "none",
    login: bool = False,
    password: str = PASSWORD,
    timeout: float = 5.0,
    tls_context: ssl.SSLContext | None = None,
) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1",
        port=port,
        security=security,
        sender=SENDER,
        username=USER if login else None,
        password=password if login else None,
        timeout=timeout,
        tls_context=tls_context,
    )


def settings_for(server: SmtpServer, **overrides: Any) -> SmtpSettings:
    """Settings that reach `server` the way it speaks, logged in when it wants AUTH."""
    overrides.setdefault("security", server.tls)
    overrides.setdefault("login", server.auth is not None)
    overrides.setdefault("tls_context", server.client_tls_context)
    return smtp_settings(server.port, **overrides)


def text_of(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert isinstance(part, EmailMessage) and part.get_content_type() == f"text/{subtype}"
    content = part.get_content()
    assert isinstance(content, str)
    return content


ServerFactory = Callable[..., Awaitable[SmtpServer]]


@pytest.fixture
async def smtp_server() -> AsyncIterator[ServerFactory]:
    """Starts SMTP servers on demand (`tls=`, `auth=`) and stops them all afterwards."""
    servers: list[SmtpServer] = []

    async def start(**kwargs: Any) -> SmtpServer:
        server = SmtpServer(**kwargs)
        servers.append(server)
        await server.start()
        return server

    try:
        yield start
    finally:
        for server in servers:
            await server.stop()


# ---- the message ----------------------------------------------------------------------------
def test_alert_has_a_text_and_an_html_part_with_the_whole_match() -> None:
    message = build_message(make_alert(), OPTIONS, smtp_settings())

    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    for body in (text_of(message, "plain"), text_of(message, "html")):
        for shown in (
            "caucasus-peace",
            "about caucasus-peace",  # the rule's description
            "Armenia and Azerbaijan sign peace treaty",
            "TASS (tass)",
            "2026-11-26T14:30:00Z",  # published
            "peace treaty",
            "leaders signed the peace treaty in Washington",
            "Yerevan, Armenian",
        ):
            assert shown in body
    text = text_of(message, "plain")
    assert "https://tass.com/politics/1" in text
    assert "Score:     3\n" in text
    assert '"peace treaty" in title: leaders signed' in text
    assert "Armenia (armenia): Yerevan, Armenian" in text
    html = text_of(message, "html")
    assert "<strong>peace treaty</strong> in title:" in html
    assert "<strong>Armenia</strong> (armenia): Yerevan, Armenian" in html
    assert '<a href="https://tass.com/politics/1"' in html
    assert ">Armenia and Azerbaijan sign peace treaty</a>" in html


def test_headers_and_a_message_id_stable_across_builds() -> None:
    alert = make_alert(delivery_id="0f9c2b7e")
    first = build_message(alert, OPTIONS, smtp_settings())
    again = build_message(alert, OPTIONS, smtp_settings(port=2525))

    assert first["From"] == SENDER
    assert first["To"] == TO
    assert first["Cc"] == CC
    assert first["Subject"] == "[monitor] caucasus-peace: Armenia and Azerbaijan sign peace treaty"
    assert first["Date"] == format_datetime(DETECTED)
    assert first["Message-ID"] == "<0f9c2b7e@example.org>"
    assert again["Message-ID"] == first["Message-ID"]
    assert again.as_bytes() == first.as_bytes()
    assert first["Auto-Submitted"] == "auto-generated"
    assert first["List-Unsubscribe"] is None
    other = build_message(make_alert(delivery_id="other"), OPTIONS, smtp_settings())
    assert other["Message-ID"] != first["Message-ID"]


def test_no_cc_header_without_cc() -> None:
    message = build_message(make_alert(), EmailOptions(to=(TO, CC)), smtp_settings())
    assert message["To"] == f"{TO}, {CC}"
    assert message["Cc"] is None


def test_markup_is_escaped_in_html_and_kept_in_text() -> None:
    alert = make_alert(
        title="Breaking <script>alert(1)</script>",
        snippet='a <img src=x onerror="steal()"> in the snippet',
    )
    message = build_message(alert, OPTIONS, smtp_settings())

    html, text = text_of(message, "html"), text_of(message, "plain")
    assert "Breaking &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&#34;steal()&#34;&gt;" in html
    assert "<script" not in html
    assert "<img" not in html
    assert "Breaking <script>alert(1)</script>" in text
    assert 'a <img src=x onerror="steal()"> in the snippet' in text


@pytest.mark.parametrize("unsafe", ["javascript:alert(1)", "data:text/html,x"], ids=["js", "data"])
def test_only_http_links_become_links(unsafe: str) -> None:
    message = build_message(make_alert(url=unsafe), OPTIONS, smtp_settings())
    html = text_of(message, "html")
    assert "href" not in html
    assert "Armenia and Azerbaijan sign peace treaty" in html
    assert unsafe not in text_of(message, "plain")


@pytest.mark.parametrize(
    "subject",
    [None, "{{ title }}", "{{ title }}\r\nBcc: victim@example.org"],
    ids=["default", "template", "template-with-newline"],
)
def test_a_subject_cannot_inject_headers(subject: str | None) -> None:
    alert = make_alert(title="Hello\r\nBcc: victim@example.org\nX-Evil: 1")
    options = EmailOptions(to=(TO,), subject=subject)
    message = build_message(alert, options, smtp_settings())

    assert "\r" not in message["Subject"] and "\n" not in message["Subject"]
    assert "Hello Bcc: victim@example.org X-Evil: 1" in message["Subject"]
    assert message["Bcc"] is None and message["X-Evil"] is None
    headers = message.as_bytes().partition(b"\n\n")[0]
    assert b"\nBcc:" not in headers and b"\nX-Evil:" not in headers


def test_a_long_subject_is_capped() -> None:
    message = build_message(make_alert(title="word " * 200), OPTIONS, smtp_settings())
    assert len(message["Subject"]) == 200
    assert message["Subject"].endswith("…")


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (make_alert(score=2.5), "alert caucasus-peace 2.5 #1: ARMENIA AND AZERBAIJAN SIGN PEACE"),
        (make_digest(), "digest rule-a, rule-b 3.0 #5: FIRST A"),
        (make_notice(), "feed_down 0.0 #5: FEED TASS IS DOWN AFTER 5 FAILURES: HTTP 503"),
    ],
    ids=["alert", "digest", "notice"],
)
def test_subject_template_gets_its_context(message: Outgoing, expected: str) -> None:
    template = "{{ kind }} {{ rule_id }} {{ score }} #{{ count }}: {{ title | upper }}"
    check_subject_template(template)
    options = EmailOptions(to=(TO,), subject=template)
    assert build_message(message, options, smtp_settings())["Subject"].startswith(expected)


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ 1 / 0 }}",
        "{{ range(10 ** 9) | list }}",
    ],
    ids=["sandbox-escape", "error", "huge-range"],
)
def test_a_failing_subject_template_falls_back_to_the_default(template: str) -> None:
    alert = make_alert()
    options = EmailOptions(to=(TO,), subject=template)
    assert build_message(alert, options, smtp_settings())["Subject"] == default_subject(alert)


def test_subject_template_gets_the_feed() -> None:
    options = EmailOptions(to=(TO,), subject="[{{ feed_id }}] {{ title }}")
    message = build_message(make_digest(), options, smtp_settings())
    assert message["Subject"] == "[tass] First A"


def test_check_subject_template_reports_syntax_errors_and_unknown_names() -> None:
    check_subject_template("[{{ rule_id }}] {{ title }} ({{ feed_id }}, {{ score }})")
    with pytest.raises(ValueError, match="subject template, line 1"):
        check_subject_template("{{ title")
    with pytest.raises(ValueError, match="unknown name titel: use count, feed_id, kind"):
        check_subject_template("{{ titel }}")


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (make_digest(), "[monitor] digest: 5 alerts (rules rule-a, rule-b)"),
        (Digest("d", DETECTED, (make_alert(),)), "[monitor] digest: 1 alert (rule caucasus-peace)"),
        (make_notice(NoticeKind.FEED_DOWN), "[monitor] feed tass is down"),
        (make_notice(NoticeKind.FEED_RECOVERED), "[monitor] feed tass recovered"),
    ],
    ids=["digest", "digest-of-one", "feed-down", "feed-recovered"],
)
def test_default_subjects(message: Outgoing, expected: str) -> None:
    assert build_message(message, OPTIONS, smtp_settings())["Subject"] == expected


def test_digest_groups_alerts_by_rule_and_counts_the_omitted() -> None:
    message = build_message(make_digest(omitted=2), OPTIONS, smtp_settings())

    for body in (text_of(message, "plain"), text_of(message, "html")):
        positions = [
            body.index(marker) for marker in ("rule-a", "First A", "Second A", "rule-b", "First B")
        ]
        assert positions == sorted(positions), "alerts are listed under their rule"
        assert "5 alerts from 2 rules" in body
        assert "2 more alerts were omitted" in body
    assert message["Message-ID"] == "<digest-1@example.org>"


def test_digest_without_omitted_says_nothing_about_it() -> None:
    message = build_message(make_digest(omitted=0), OPTIONS, smtp_settings())
    assert "omitted" not in text_of(message, "plain")


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        (NoticeKind.FEED_DOWN, ["Feed tass is down", "5 consecutive failures", "HTTP 503"]),
        (NoticeKind.FEED_RECOVERED, ["Feed tass has recovered", "failed 5 times"]),
    ],
    ids=["down", "recovered"],
)
def test_notice_says_which_feed_what_failed_and_since_when(
    kind: NoticeKind, said: list[str]
) -> None:
    message = build_message(make_notice(kind), OPTIONS, smtp_settings())
    for body in (text_of(message, "plain"), text_of(message, "html")):
        for text in [*said, "since 2026-11-26T09:00:00Z", "https://tass.com/rss/v2.xml"]:
            assert text in body


# ---- settings -------------------------------------------------------------------------------
def test_smtp_settings_from_settings_and_a_repr_without_password() -> None:
    settings = Settings(
        smtp_host="mail.example.org",
        smtp_from=SENDER,
        smtp_username=USER,
        smtp_password=SecretStr(PASSWORD),
    )
    smtp = SmtpSettings.from_settings(settings)

    assert (smtp.host, smtp.port, smtp.security) == ("mail.example.org", 587, "starttls")
    assert (smtp.sender, smtp.username, smtp.password) == (SENDER, USER, PASSWORD)
    assert smtp.tls_context is None and smtp.timeout == 30
    assert PASSWORD not in repr(smtp) and PASSWORD not in str(smtp)


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"smtp_from": SENDER}, "MONITOR_SMTP_HOST"),
        ({"smtp_host": "mail.example.org"}, "MONITOR_SMTP_FROM"),
        ({"smtp_host": "mail.example.org", "smtp_from": "monitor"}, "MONITOR_SMTP_FROM"),
    ],
    ids=["no-host", "no-from", "from-not-an-address"],
)
def test_smtp_settings_need_a_host_and_a_sender(given: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        SmtpSettings.from_settings(Settings(**given))  # type: ignore[arg-type]


# ---- real sends -----------------------------------------------------------------------------
@pytest.mark.parametrize("security", ["none", "starttls", "tls"])
async def test_sends_an_alert_with_login(smtp_server: ServerFactory, security: TlsMode) -> None:
    server = await smtp_server(tls=security, auth=(USER, PASSWORD))
    notifier = EmailNotifier("analysts", OPTIONS, settings_for(server))

    answer = await notifier.send(make_alert())

    assert answer == "250 2.0.0 Ok: queued as TEST0001"
    [received] = await server.wait_for(1)
    assert received.mail_from == "monitor@example.org"
    assert received.rcpt_tos == (TO, CC)
    assert received.login == USER
    assert received.tls is (security != "none")
    assert received.message["Message-ID"] == "<dlv-1@example.org>"
    assert received.message["Subject"].startswith("[monitor] caucasus-peace: Armenia")
    assert "leaders signed the peace treaty" in text_of(received.message, "plain")
    assert PASSWORD.encode() not in received.raw


async def test_sends_a_digest_and_a_notice(smtp_server: ServerFactory) -> None:
    server = await smtp_server()
    notifier = EmailNotifier("analysts", OPTIONS, settings_for(server))

    await notifier.send(make_digest(omitted=2))
    await notifier.send(make_notice())

    digest, notice = await server.wait_for(2)
    assert digest.message["Subject"] == "[monitor] digest: 5 alerts (rules rule-a, rule-b)"
    digest_text = text_of(digest.message, "plain")
    assert digest_text.index("rule-a") < digest_text.index("rule-b")
    assert "2 more alerts were omitted" in digest_text
    assert notice.message["Subject"] == "[monitor] feed tass is down"
    assert "Last error: HTTP 503 Service Unavailable" in text_of(notice.message, "plain")


async def test_unicode_and_markup_survive_the_wire(smtp_server: ServerFactory) -> None:
    server = await smtp_server()
    title = "Пашинян и Алиев <b>подписали</b> мир — 和平"
    notifier = EmailNotifier("analysts", OPTIONS, settings_for(server))

    await notifier.send(make_alert(title=title))

    [received] = await server.wait_for(1)
    assert received.message["Subject"] == f"[monitor] caucasus-peace: {title}"
    assert title in text_of(received.message, "plain")
    assert "&lt;b&gt;подписали&lt;/b&gt;" in text_of(received.message, "html")


async def test_sends_run_concurrently_on_their_own_connections(
    smtp_server: ServerFactory,
) -> None:
    server = await smtp_server(tls="starttls", auth=(USER, PASSWORD))
    notifier = EmailNotifier("analysts", OPTIONS, settings_for(server))
    assert notifier.id == "analysts" and notifier.concurrency == 2

    await asyncio.gather(*(notifier.send(make_alert(delivery_id=f"d{i}")) for i in range(4)))

    received = await server.wait_for(4)
    assert sorted(r.message["Message-ID"] for r in received) == [
        f"<d{i}@example.org>" for i in range(4)
    ]


async def test_a_closed_notifier_refuses_to_send(smtp_server: ServerFactory) -> None:
    server = await smtp_server()
    notifier = EmailNotifier("analysts", OPTIONS, settings_for(server))
    await notifier.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await notifier.send(make_alert())
    assert server.mail_attempts == []


async def test_starttls_required_but_not_offered_never_sends_in_clear(
    smtp_server: ServerFactory,
) -> None:
    # The server offers AUTH in clear: the notifier must neither log in nor send.
    server = await smtp_server(tls="none", auth=(USER, PASSWORD))
    notifier = EmailNotifier("analysts", OPTIONS, settings_for(server, security="starttls"))

    # Transient, like a failed TLS handshake: a stripped STARTTLS (an attacker on the path)
    # or a server mid-maintenance can be gone on a later attempt, and our configuration is
    # not what is wrong; a lasting mismatch still ends as a dead delivery after the retries.
    with pytest.raises(TransientDeliveryError, match="does not offer STARTTLS"):
        await notifier.send(make_alert())

    assert server.auth_attempts == 0
    assert server.mail_attempts == []
    assert server.messages == []


# ---- faults ---------------------------------------------------------------------------------
async def test_server_down_is_transient_and_the_retry_works_when_it_is_back(
    smtp_server: ServerFactory,
) -> None:
    server = await smtp_server()
    notifier = EmailNotifier("analysts", OPTIONS, settings_for(server))
    port = server.port
    await server.stop()

    with pytest.raises(TransientDeliveryError, match=f"127.0.0.1:{port} unreachable") as caught:
        await notifier.send(make_alert())
    assert "Connect call failed" in str(caught.value)  # the cause is kept

    await server.start()
    assert server.port == port
    await notifier.send(make_alert())
    [received] = await server.wait_for(1)
    assert received.message["Message-ID"] == "<dlv-1@example.org>"


async def test_451_is_transient_and_the_same_message_goes_on_retry(
    smtp_server: ServerFactory,
) -> None:
    server = await smtp_server()
    server.script("DATA", "451 4.3.0 Try again later")
    notifier = EmailNotifier("analysts", OPTIONS, settings_for(server))

    with pytest.raises(TransientDeliveryError) as caught:
        await notifier.send(make_alert())
    assert "refused the message (DATA): 451 4.3.0 Try again later" in str(caught.value)
    assert server.messages == []

    await notifier.send(make_alert())
    [received] = await server.wait_for(1)
    assert received.message["Message-ID"] == "<dlv-1@example.org>"


async def test_550_is_permanent_with_the_reason(smtp_server: ServerFactory) -> None:
    server = await smtp_server()
    server.script("DATA", "550 5.7.1 Message rejected as spam")
    notifier = EmailNotifier("analysts", OPTIONS, settings_for(server))

    with pytest.raises(PermanentDeliveryError) as caught:
        await notifier.send(make_alert())

    assert str(caught.value) == (
        "SMTP server 127.0.0.1:"
        f"{server.port} refused the message (DATA): 550 5.7.1 Message rejected as spam"
    )


@pytest.mark.parametrize(
    ("command", "reply", "error"),
    [
        ("MAIL", "451 4.7.1 Greylisted", TransientDeliveryError),
        ("MAIL", "553 5.7.1 Sender not allowed", PermanentDeliveryError),
        ("RCPT", "450 4.2.0 Mailbox busy", TransientDeliveryError),
        ("RCPT", "550 5.1.1 No such user", PermanentDeliveryError),
        ("AUTH", "454 4.7.0 Temporary authentication failure", TransientDeliveryError),
        ("DATA", "421 4.3.2 Shutting down", TransientDeliveryError),
        ("DATA", "554 5.6.0 Malformed message", PermanentDeliveryError),
    ],
    ids=["mail-4xx", "mail-5xx", "rcpt-4xx", "rcpt-5xx", "auth-454", "data-421", "data-554"],
)
async def test_replies_are_classified_by_their_code(
    smtp_server: ServerFactory, command: str, reply: str, error: type[DeliveryError]
) -> None:
    server = await smtp_server(tls="starttls", auth=(USER, PASSWORD))
    server.script(command, reply, times=None)  # every recipient, every attempt
    notifier = EmailNotifier("analysts", OPTIONS, settings_for(server))

    with pytest.raises(DeliveryError) as caught:
        await notifier.send(make_alert())

    assert type(caught.value) is error
    assert reply in str(caught.value)
    assert server.messages == []


async def test_all_recipients_refused_with_mixed_codes_is_transient(
    smtp_server: ServerFactory,
) -> None:
    server = await smtp_server()
    server.script("RCPT", "550 5.1.1 No such user", address=TO, times=None)
    server.script("RCPT", "452 4.2.2 Mailbox full", address=CC, times=None)
    notifier = EmailNotifier("analysts", OPTIONS, settings_for(server))

    with pytest.raises(TransientDeliveryError) as caught:
        await notifier.send(make_alert())

    assert f"{TO}: 550 5.1.1 No such user" in str(caught.value)
    assert f"{CC}: 452 4.2.2 Mailbox full" in str(caught.value)


async def test_some_recipients_refused_is_sent_and_says_which(
    smtp_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    server = await smtp_server()
    server.script("RCPT", "550 5.1.1 No such user", address=CC, times=None)
    notifier = EmailNotifier("analysts", OPTIONS, settings_for(server))

    answer = await notifier.send(make_alert())

    assert answer == (
        "250 2.0.0 Ok: queued as TEST0001; refused: chief@example.org (550 5.1.1 No such user)"
    )
    [received] = await server.wait_for(1)
    assert received.rcpt_tos == (TO,)
    assert received.message["Cc"] == CC  # the header still says who it was meant for
    [warning] = [r for r in caplog.records if r.name == "monitor.notify.email"]
    assert warning.getMessage() == "some recipients were refused"
    assert (warning.delivery_id, warning.refused) == ("dlv-1", CC)  # type: ignore[attr-defined]


@pytest.mark.parametrize("security", ["none", "starttls", "tls"])
async def test_a_wrong_password_is_permanent_and_never_shown(
    smtp_server: ServerFactory, security: TlsMode, caplog: pytest.LogCaptureFixture
) -> None:
    server = await smtp_server(tls=security, auth=(USER, "the-right-one"))
    notifier = EmailNotifier("analysts", OPTIONS, settings_for(server))
    caplog.set_level(logging.DEBUG)

    with pytest.raises(PermanentDeliveryError) as caught:
        await notifier.send(make_alert())

    assert "refused the login: 535 5.7.8 Authentication credentials invalid" in str(caught.value)
    shown = "".join(traceback.format_exception(caught.value)) + repr(caught.value)
    ours = "".join(r.getMessage() + str(r.__dict__) for r in caplog.records if r.name != "mail.log")
    for text in (shown, ours):
        assert PASSWORD not in text
    assert server.messages == []


async def test_a_server_offering_no_auth_is_permanent(smtp_server: ServerFactory) -> None:
    server = await smtp_server()  # no AUTH at all
    notifier = EmailNotifier("analysts", OPTIONS, settings_for(server, login=True))

    with pytest.raises(PermanentDeliveryError, match="cannot log in") as caught:
        await notifier.send(make_alert())

    assert PASSWORD not in "".join(traceback.format_exception(caught.value))
    assert server.mail_attempts == []


async def test_a_dropped_connection_is_transient(smtp_server: ServerFactory) -> None:
    server = await smtp_server()
    server.script("DATA", DISCONNECT)
    notifier = EmailNotifier("analysts", OPTIONS, settings_for(server))

    with pytest.raises(TransientDeliveryError, match="unreachable or disconnected"):
        await notifier.send(make_alert())
    assert server.messages == []


async def test_a_silent_server_times_out_as_transient() -> None:
    done = asyncio.Event()

    async def greet_never(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes
        writer.close()
        await writer.wait_closed()
        done.set()

    silent = await asyncio.start_server(greet_never, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    notifier = EmailNotifier("analysts", OPTIONS, smtp_settings(port, timeout=0.2))
    try:
        with pytest.raises(TransientDeliveryError, match="timed out"):
            await notifier.send(make_alert())
        async with asyncio.timeout(5):
            await done.wait()  # the client closed its side: nothing is left open
    finally:
        silent.close()
        await silent.wait_closed()


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_an_untrusted_certificate_is_a_transient_tls_failure(
    smtp_server: ServerFactory, security: TlsMode
) -> None:
    server = await smtp_server(tls=security)
    trusts_nothing = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, but knows no CA
    notifier = EmailNotifier("analysts", OPTIONS, settings_for(server, tls_context=trusts_nothing))

    with pytest.raises(TransientDeliveryError, match="TLS with SMTP server") as caught:
        await notifier.send(make_alert())

    assert "certificate verify failed" in str(caught.value)
    assert server.mail_attempts == []
