"""The webhook notifier: payload formats, Standard Webhooks signatures, and how each answer of a
real receiver (tests/webhookreceiver.py on 127.0.0.1) is classified. Secrets never leak."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import socket
import sys
import time
import traceback
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from monitor.errors import ConfigError, PermanentDeliveryError, TransientDeliveryError
from monitor.models import ActorHit, RuleMatch, TermHit
from monitor.notify.base import WebhookFormat, WebhookOptions
from monitor.notify.discord import DISCORD_EMBEDS_CHARS
from monitor.notify.formats import load_template, render_body
from monitor.notify.messages import (
    AlertMessage,
    ArticleInfo,
    Digest,
    FeedInfo,
    NoticeKind,
    OpsNotice,
)
from monitor.notify.signing import sign, signing_key, webhook_headers
from monitor.notify.slack import SLACK_MAX_BLOCKS
from monitor.notify.teams import TEAMS_DIGEST_ALERTS
from monitor.notify.webhook import (
    WebhookNotifier,
    _safe_cause,
    _Scrubber,
    create_webhook_client,
)
from tests.webhookreceiver import Received, Reply, WebhookReceiver

REPO = Path(__file__).resolve().parent.parent
DETECTED = datetime(2026, 11, 26, 15, 5, tzinfo=UTC)
PUBLISHED = datetime(2026, 11, 26, 14, 58, 30, tzinfo=UTC)
WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
HOSTILE_TITLE = "<script>alert(1)</script> & <!channel> @everyone **bold** [x](http://evil)"


# ---- builders ----------------------------------------------------------------------------------
def make_alert(
    *,
    delivery_id: str = "dlv-1",
    alert_id: str = "a1b2c3",
    rule_id: str = "caucasus-peace",
    title: str = "Armenia and Azerbaijan sign peace treaty",
    url: str | None = "https://tass.com/politics/1",
    summary: str = "Yerevan and Baku agreed on a peace treaty.",
) -> AlertMessage:
    feed = FeedInfo(id="tass", title="TASS", url="https://tass.com/rss/v2.xml")
    article = ArticleInfo(
        key="guid-1",
        title=title,
        url=url,
        published=PUBLISHED,
        summary=summary,
        authors=("Sergey Kopirkin",),
        feed=feed,
    )
    match = RuleMatch(
        rule_id=rule_id,
        keywords=(TermHit(term="peace treaty", field="title", snippet="…sign peace treaty…"),),
        actors=(ActorHit(id="armenia", name="Armenia", mentions=("Yerevan", "Armenian")),),
        score=3.0,
    )
    return AlertMessage(
        delivery_id=delivery_id,
        alert_id=alert_id,
        detected_at=DETECTED,
        rule_id=rule_id,
        rule_description="Armenia–Azerbaijan peace process",
        article=article,
        match=match,
    )


def make_digest(alerts: int, rules: int, omitted: int = 0, title: str = "Story") -> Digest:
    return Digest(
        delivery_id="dlv-digest",
        created_at=DETECTED,
        alerts=tuple(
            make_alert(
                alert_id=f"a{i}",
                rule_id=f"rule-{i % rules}",
                title=f"{title} {i}",
                url=f"https://example.org/{i}",
            )
            for i in range(alerts)
        ),
        omitted=omitted,
    )


def make_notice(kind: NoticeKind = NoticeKind.FEED_DOWN) -> OpsNotice:
    return OpsNotice(
        delivery_id="dlv-ops",
        kind=kind,
        at=DETECTED,
        feed=FeedInfo(id="tass", title="TASS", url="https://tass.com/rss/v2.xml"),
        failures=5,
        error="503 Service Unavailable" if kind is NoticeKind.FEED_DOWN else None,
        since=DETECTED - timedelta(hours=1) if kind is NoticeKind.FEED_DOWN else None,
    )


def body_of(message: Any, fmt: WebhookFormat) -> Any:
    return json.loads(render_body(message, WebhookOptions(url="http://x", format=fmt), None))


def all_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from all_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from all_strings(item)


# ---- fixtures -----------------------------------------------------------------------------------
@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    http = create_webhook_client("feed-monitor-test/1.0")
    try:
        yield http
    finally:
        await http.aclose()


def notifier_for(client: httpx.AsyncClient, url: str, **options: Any) -> WebhookNotifier:
    return WebhookNotifier("ops", WebhookOptions(url=url, **options), client)


# ---- json: the contract -------------------------------------------------------------------------
def test_json_alert_is_exactly_the_design_payload() -> None:
    assert body_of(make_alert(), "json") == {
        "id": "a1b2c3",
        "detected_at": "2026-11-26T15:05:00Z",
        "rule": {"id": "caucasus-peace", "description": "Armenia–Azerbaijan peace process"},
        "article": {
            "key": "guid-1",
            "title": "Armenia and Azerbaijan sign peace treaty",
            "url": "https://tass.com/politics/1",
            "published": "2026-11-26T14:58:30Z",
            "summary": "Yerevan and Baku agreed on a peace treaty.",
            "authors": ["Sergey Kopirkin"],
            "feed": {"id": "tass", "title": "TASS", "url": "https://tass.com/rss/v2.xml"},
        },
        "matches": {
            "keywords": [
                {"term": "peace treaty", "field": "title", "snippet": "…sign peace treaty…"}
            ],
            "actors": [{"id": "armenia", "name": "Armenia", "mentions": ["Yerevan", "Armenian"]}],
        },
        "score": 3.0,
    }


def test_json_body_is_compact_utf8() -> None:
    raw = render_body(make_alert(), WebhookOptions(url="http://x"), None)
    assert "Armenia–Azerbaijan".encode() in raw  # not \u2013
    assert b", " not in raw and b'": ' not in raw


def test_json_digest_and_notices() -> None:
    digest = body_of(make_digest(3, rules=2, omitted=4), "json")
    assert list(digest) == ["type", "id", "created_at", "alerts", "omitted"]
    assert (digest["type"], digest["id"], digest["omitted"]) == ("digest", "dlv-digest", 4)
    assert [a["id"] for a in digest["alerts"]] == ["a0", "a1", "a2"]
    assert digest["alerts"][0]["rule"]["id"] == "rule-0"

    down = body_of(make_notice(), "json")
    assert down == {
        "type": "feed_down",
        "id": "dlv-ops",
        "at": "2026-11-26T15:05:00Z",
        "feed": {"id": "tass", "title": "TASS", "url": "https://tass.com/rss/v2.xml"},
        "failures": 5,
        "error": "503 Service Unavailable",
        "since": "2026-11-26T14:05:00Z",
    }
    up = body_of(make_notice(NoticeKind.FEED_RECOVERED), "json")
    assert (up["type"], up["error"], up["since"]) == ("feed_recovered", None, None)


# ---- signing ------------------------------------------------------------------------------------
def test_signing_key_of_whsec_and_plain_secrets() -> None:
    assert signing_key(WHSEC) == b"0123456789abcdef0123456789abcdef"
    assert signing_key("whsec_" + "YWJj") == b"abc"
    assert signing_key("whsec_YWI") == b"ab"  # unpadded, as the reference libraries accept
    assert signing_key("plain secret é") == "plain secret é".encode()
    with pytest.raises(ValueError) as caught:
        signing_key("whsec_not*base64!")
    assert "not*base64" not in str(caught.value)


def test_headers_carry_a_signature_only_with_a_secret() -> None:
    assert webhook_headers("id1", 1700000000, b"{}", None) == {
        "webhook-id": "id1",
        "webhook-timestamp": "1700000000",
    }
    assert "webhook-signature" not in webhook_headers("id1", 1700000000, b"{}", "")
    signed = webhook_headers("id1", 1700000000, b"{}", "s3cret")
    assert signed["webhook-signature"] == sign("s3cret", "id1", 1700000000, b"{}")
    assert signed["webhook-signature"].startswith("v1,")


async def test_whsec_signature_verifies_with_the_standardwebhooks_library(
    receiver: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    notifier = notifier_for(client, receiver.url(), secret=WHSEC)
    await notifier.send(make_alert())
    [request] = await receiver.wait_for(1)
    verified = Webhook(WHSEC).verify(request.body, request.headers)
    assert verified["id"] == "a1b2c3"
    with pytest.raises(WebhookVerificationError):
        Webhook(WHSEC).verify(request.body + b" ", request.headers)


async def test_plain_secret_signature_is_hmac_of_id_timestamp_body(
    receiver: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    notifier = notifier_for(client, receiver.url(), secret="plain-secret-ünï")
    before = int(time.time())
    await notifier.send(make_alert(delivery_id="dlv-42"))
    [request] = await receiver.wait_for(1)
    timestamp = request.headers["webhook-timestamp"]
    assert before <= int(timestamp) <= int(time.time())
    assert request.headers["webhook-id"] == "dlv-42"
    signed = b"dlv-42." + timestamp.encode() + b"." + request.body
    digest = hmac.new("plain-secret-ünï".encode(), signed, hashlib.sha256).digest()
    assert request.headers["webhook-signature"] == "v1," + base64.b64encode(digest).decode()


async def test_no_signature_header_without_a_secret(
    receiver: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    await notifier_for(client, receiver.url()).send(make_alert())
    [request] = await receiver.wait_for(1)
    assert "webhook-signature" not in request.headers
    assert request.headers["webhook-id"] == "dlv-1"


# ---- slack --------------------------------------------------------------------------------------
def test_slack_alert_escapes_article_text_and_shows_the_match() -> None:
    payload = body_of(make_alert(title=HOSTILE_TITLE, url="https://x.org/a?b=1&c=2"), "slack")
    assert set(payload) == {"text", "blocks"}
    for text in all_strings(payload):
        assert "<script>" not in text and "<!channel>" not in text
    assert "&lt;script&gt;" in payload["text"]
    assert all(b["type"] in {"section", "context"} for b in payload["blocks"])
    sections = "\n".join(b["text"]["text"] for b in payload["blocks"] if b["type"] == "section")
    assert "<https://x.org/a?b=1&amp;c=2|&lt;script&gt;alert(1)&lt;/script&gt; &amp; " in sections
    assert "`caucasus-peace`" in sections and "score 3" in sections
    assert "*peace treaty* in title: …sign peace treaty…" in sections
    assert "*Armenia* (`armenia`): Yerevan, Armenian" in sections


def test_slack_long_digest_stays_within_the_block_limit() -> None:
    payload = body_of(make_digest(600, rules=80, omitted=7, title="x" * 300), "slack")
    blocks = payload["blocks"]
    assert len(blocks) <= SLACK_MAX_BLOCKS
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    shown = sum(b["text"]["text"].count("\n• ") for b in blocks if b["type"] == "section")
    assert 0 < shown < 600
    assert blocks[-1]["elements"][0]["text"] == f"…and {607 - shown} more"
    assert "*Rule `rule-0`* (8)" in blocks[1]["text"]["text"]


def test_slack_digest_of_many_rules_stops_at_fifty_blocks() -> None:
    payload = body_of(make_digest(200, rules=200), "slack")
    blocks = payload["blocks"]
    assert len(blocks) == SLACK_MAX_BLOCKS
    assert blocks[-1]["elements"][0]["text"] == f"…and {200 - (SLACK_MAX_BLOCKS - 2)} more"


def test_slack_short_digest_lists_every_alert_by_rule() -> None:
    payload = body_of(make_digest(5, rules=2), "slack")
    texts = [b["text"]["text"] for b in payload["blocks"]]
    assert len(texts) == 3  # the heading and one section per rule, nothing cut
    assert texts[1].startswith("*Rule `rule-0`* (3)") and texts[1].count("• ") == 3
    assert "<https://example.org/1|Story 1>" in texts[2]


def test_slack_notice() -> None:
    payload = body_of(make_notice(), "slack")
    text = payload["blocks"][0]["text"]["text"]
    assert "*Feed `tass` is down*" in text and "5 failures" in text and "503" in text


# ---- discord ------------------------------------------------------------------------------------
def test_discord_alert_respects_limits_and_never_mentions() -> None:
    alert = make_alert(title=HOSTILE_TITLE + "y" * 1000, summary="s" * 10_000)
    payload = body_of(alert, "discord")
    assert payload["allowed_mentions"] == {"parse": []}
    [embed] = payload["embeds"]
    assert len(embed["title"]) <= 256 and embed["title"].endswith("…")
    assert len(embed["description"]) <= 4096
    assert embed["url"] == "https://tass.com/politics/1"
    assert embed["timestamp"] == "2026-11-26T14:58:30Z"
    assert r"\*\*bold\*\*" in embed["title"] and r"\[x\](http://evil)" in embed["title"]
    assert "@everyone" in payload["content"]  # shown as text, pinging nobody
    names = [field["name"] for field in embed["fields"]]
    assert names[:3] == ["Rule", "Score", "Feed"]
    assert "peace treaty (title)" in names and "Actors" in names


def test_discord_long_digest_stays_within_every_limit() -> None:
    digest = make_digest(500, rules=30, omitted=3, title="t" * 400)
    payload = body_of(digest, "discord")
    embeds = payload["embeds"]
    assert 0 < len(embeds) <= 10
    fields = [f for e in embeds for f in e["fields"]]
    assert all(len(e["fields"]) <= 25 for e in embeds)
    assert all(len(f["name"]) <= 256 and len(f["value"]) <= 1024 for f in fields)
    total = sum(
        len(e["title"])
        + len(e.get("description", ""))
        + sum(len(f["name"]) + len(f["value"]) for f in e["fields"])
        for e in embeds
    )
    assert total <= DISCORD_EMBEDS_CHARS
    assert len(payload["content"]) <= 2000
    assert payload["content"].endswith(f"…and {503 - len(fields)} more")
    assert fields[0]["value"].startswith("[open](https://example.org/0) · score 3")


@pytest.mark.parametrize(
    ("alerts", "rules", "embeds", "fields"),
    [(30, 30, 10, 10), (60, 1, 1, 25)],
    ids=["ten-embeds", "twenty-five-fields"],
)
def test_discord_digest_counts_cut_at_embed_and_field_limits(
    alerts: int, rules: int, embeds: int, fields: int
) -> None:
    payload = body_of(make_digest(alerts, rules=rules), "discord")
    assert len(payload["embeds"]) == embeds
    assert sum(len(e["fields"]) for e in payload["embeds"]) == fields
    assert payload["content"].endswith(f"…and {alerts - fields} more")


def test_discord_notice() -> None:
    payload = body_of(make_notice(), "discord")
    [embed] = payload["embeds"]
    assert (
        embed["title"] == "Feed tass is down" and embed["description"] == "503 Service Unavailable"
    )
    assert {"name": "Failures", "value": "5", "inline": True} in embed["fields"]


# ---- teams --------------------------------------------------------------------------------------
def test_teams_alert_is_an_adaptive_card_in_a_message() -> None:
    payload = body_of(make_alert(title=HOSTILE_TITLE), "teams")
    assert payload["type"] == "message"
    [attachment] = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert {item["type"] for item in card["body"]} == {"TextBlock", "FactSet"}
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open article", "url": "https://tass.com/politics/1"}
    ]
    title = card["body"][0]["text"]
    assert title.startswith("<script>") and r"\*\*bold\*\* \[x\](http://evil)" in title
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Rule"] == "caucasus-peace" and facts["Score"] == "3"
    assert facts["Actors"] == "Armenia (Yerevan, Armenian)"


def test_teams_long_digest_is_cut_with_a_count() -> None:
    payload = body_of(make_digest(100, rules=3, omitted=2), "teams")
    body = payload["attachments"][0]["content"]["body"]
    lines = [b["text"] for b in body if b["text"].startswith("- ")]
    assert len(lines) == TEAMS_DIGEST_ALERTS
    assert lines[0] == "- [Story 0](https://example.org/0) · score 3"
    assert body[-1]["text"] == f"…and {102 - TEAMS_DIGEST_ALERTS} more"


# ---- template -----------------------------------------------------------------------------------
TEMPLATE = """{%- if kind == "alert" -%}
{"kind": {{ kind | tojson }}, "rule": {{ alert.rule.id | tojson }},
 "title": {{ alert.article.title | tojson }}}
{%- elif kind == "digest" -%}
{"kind": "digest", "ids": {{ alerts | map(attribute="id") | list | tojson }},
 "omitted": {{ digest.omitted }}}
{%- else -%}
{"kind": {{ kind | tojson }}, "feed": {{ notice.feed.id | tojson }}}
{%- endif %}"""


UNSAFE_LINKS = [
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<b>x</b>",
    " javascript:x",
]


@pytest.mark.parametrize("fmt", ["slack", "discord", "teams"])
@pytest.mark.parametrize("unsafe", UNSAFE_LINKS, ids=["javascript", "upper", "data", "space"])
def test_chat_formats_drop_links_that_are_not_http(fmt: WebhookFormat, unsafe: str) -> None:
    untitled = make_alert(title="", url=unsafe)
    digest = Digest(
        delivery_id="dlv-digest",
        created_at=DETECTED,
        alerts=(make_alert(url=unsafe), make_alert(alert_id="a2", url="https://example.org/2")),
        omitted=0,
    )
    notice = replace(make_notice(), feed=FeedInfo(id="tass", title=None, url=unsafe))
    for message in (make_alert(url=unsafe), untitled, digest, notice):
        strings = list(all_strings(body_of(message, fmt)))
        assert not any(unsafe.strip()[:5].lower() in s.lower() for s in strings), (fmt, strings)
    # the safe link of the same digest is still a link
    assert any("https://example.org/2" in s for s in all_strings(body_of(digest, fmt)))


def test_the_json_payload_keeps_an_unsafe_url_as_data() -> None:
    payload = body_of(make_alert(url="javascript:alert(1)"), "json")
    assert payload["article"]["url"] == "javascript:alert(1)"


def template_options(path: Path) -> WebhookOptions:
    return WebhookOptions(
        url="http://x", format="template", template=path, content_type="application/x-ndjson"
    )


def test_template_renders_each_kind(tmp_path: Path) -> None:
    path = tmp_path / "hook.json.j2"
    path.write_text(TEMPLATE, encoding="utf-8")
    template = load_template(path)
    options = template_options(path)

    def render(message: Any) -> Any:
        return json.loads(render_body(message, options, template))

    assert render(make_alert(title='Quote " and <b>')) == {
        "kind": "alert",
        "rule": "caucasus-peace",
        "title": 'Quote " and <b>',
    }
    assert render(make_digest(2, rules=1, omitted=1)) == {
        "kind": "digest",
        "ids": ["a0", "a1"],
        "omitted": 1,
    }
    assert render(make_notice(NoticeKind.FEED_RECOVERED)) == {
        "kind": "feed_recovered",
        "feed": "tass",
    }


def test_template_syntax_error_is_a_config_error_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.j2"
    path.write_text('{"a": 1,\n "b": 2,\n {% if %}\n}', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_template(path)
    assert (caught.value.path, caught.value.line) == (str(path), 3)
    assert str(caught.value).startswith(f"{path}:3: template syntax error")


def test_unreadable_template_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_template(tmp_path / "missing.j2")
    assert caught.value.path == str(tmp_path / "missing.j2")
    (tmp_path / "latin1.j2").write_bytes(b"caf\xe9")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_template(tmp_path / "latin1.j2")


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{}\n{{ alert.nope.deeper }}", "has no attribute 'nope'"),
        ("{}\n{{ undefined_name }}", "'undefined_name' is undefined"),
        ("{}\n{{ kind.__class__.__mro__ }}", "unsafe"),
    ],
    ids=["undefined-attribute", "undefined-name", "sandbox"],
)
def test_template_render_error_is_permanent_with_file_and_line(
    tmp_path: Path, source: str, reason: str
) -> None:
    path = tmp_path / "t.j2"
    path.write_text(source, encoding="utf-8")
    with pytest.raises(PermanentDeliveryError) as caught:
        render_body(make_alert(), template_options(path), load_template(path))
    assert str(caught.value).startswith(f"{path}:2: template error")
    assert reason in str(caught.value)


async def test_template_notifier_loads_the_file_and_sends_its_content_type(
    tmp_path: Path, receiver: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    path = tmp_path / "hook.j2"
    path.write_text(TEMPLATE, encoding="utf-8")
    options = replace(template_options(path), url=receiver.url())
    await WebhookNotifier("ops", options, client).send(make_alert())
    [request] = await receiver.wait_for(1)
    assert request.headers["content-type"] == "application/x-ndjson"
    assert request.json()["rule"] == "caucasus-peace"


async def test_template_render_error_sends_nothing(
    tmp_path: Path, receiver: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    path = tmp_path / "t.j2"
    path.write_text("{{ missing }}", encoding="utf-8")
    notifier = WebhookNotifier("ops", replace(template_options(path), url=receiver.url()), client)
    with pytest.raises(PermanentDeliveryError, match=r"t\.j2:1"):
        await notifier.send(make_alert())
    assert receiver.requests == []


# ---- classification against a real receiver -----------------------------------------------
async def test_success_posts_the_rendered_body(
    receiver: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    notifier = notifier_for(client, receiver.url(), format="slack", concurrency=3)
    assert (notifier.id, notifier.concurrency) == ("ops", 3)
    assert await notifier.send(make_alert()) == "200 OK"
    [request] = await receiver.wait_for(1)
    assert (request.method, request.path) == ("POST", "/hook")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "feed-monitor-test/1.0"
    options = WebhookOptions(url="http://x", format="slack")
    assert request.body == render_body(make_alert(), options, None)
    await notifier.aclose()  # leaves the shared client usable
    assert await notifier.send(make_alert()) == "200 OK"


@pytest.mark.parametrize(
    ("reply", "retry_after"),
    [
        (Reply(500), None),
        (Reply(503, {"Retry-After": "120"}), 120.0),
        (Reply(429, {"Retry-After": "7"}), 7.0),
        (Reply(408), None),
        (Reply(502, {"Retry-After": "soon"}), None),
    ],
    ids=["500", "503-retry-after", "429-retry-after", "408", "502-bad-retry-after"],
)
async def test_retryable_statuses_are_transient(
    receiver: WebhookReceiver, client: httpx.AsyncClient, reply: Reply, retry_after: float | None
) -> None:
    receiver.script(reply)
    with pytest.raises(TransientDeliveryError) as caught:
        await notifier_for(client, receiver.url()).send(make_alert())
    assert caught.value.retry_after == retry_after
    assert f"answered {reply.status}" in str(caught.value)


async def test_retry_after_as_an_http_date(
    receiver: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    receiver.script(Reply(503, {"Retry-After": when}))
    with pytest.raises(TransientDeliveryError) as caught:
        await notifier_for(client, receiver.url()).send(make_alert())
    assert caught.value.retry_after is not None and 80 <= caught.value.retry_after <= 90


async def test_five_failures_then_success(
    receiver: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    receiver.script(*[500] * 5)
    notifier = notifier_for(client, receiver.url())
    for _ in range(5):
        with pytest.raises(TransientDeliveryError):
            await notifier.send(make_alert())
    assert await notifier.send(make_alert()) == "200 OK"
    assert receiver.ids() == ["dlv-1"] * 6  # the same webhook-id on every retry


async def test_client_error_is_permanent_with_an_excerpt_of_the_answer(
    receiver: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    body = b"  invalid_payload:\n\n   missing   field 'text'  " + b"x" * 100_000
    receiver.script(Reply(400, body=body))
    with pytest.raises(PermanentDeliveryError) as caught:
        await notifier_for(client, receiver.url()).send(make_alert())
    message = str(caught.value)
    assert "answered 400 Bad Request: invalid_payload: missing field 'text' xxx" in message
    excerpt = message.split("Bad Request: ", 1)[1]
    assert len(excerpt) <= 200 and excerpt.endswith("…")


@pytest.mark.parametrize("status", [401, 404, 410, 301, 302])
async def test_other_statuses_are_permanent_and_redirects_not_followed(
    receiver: WebhookReceiver, client: httpx.AsyncClient, status: int
) -> None:
    receiver.script(Reply(status, {"Location": receiver.url("/elsewhere")}))
    with pytest.raises(PermanentDeliveryError, match=f"answered {status}"):
        await notifier_for(client, receiver.url()).send(make_alert())
    assert [r.path for r in receiver.requests] == ["/hook"]


async def test_cookies_are_not_kept(receiver: WebhookReceiver, client: httpx.AsyncClient) -> None:
    receiver.script(Reply(200, {"Set-Cookie": "session=abc; Path=/"}))
    notifier = notifier_for(client, receiver.url())
    await notifier.send(make_alert())
    await notifier.send(make_alert())
    second = (await receiver.wait_for(2))[1]
    assert "cookie" not in second.headers


async def test_refused_connection_is_transient(client: httpx.AsyncClient) -> None:
    with closed_port() as port, pytest.raises(TransientDeliveryError) as caught:
        await notifier_for(client, f"http://127.0.0.1:{port}/hook").send(make_alert())
    assert caught.value.retry_after is None
    assert f"webhook ops (http://127.0.0.1:{port}/…)" in str(caught.value)


@pytest.mark.parametrize(
    "raw",
    [b"garbage\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n", b""],
    ids=["bad-status-line", "bad-header", "hang-up"],
)
async def test_protocol_errors_are_transient(
    receiver: WebhookReceiver, client: httpx.AsyncClient, raw: bytes
) -> None:
    receiver.script(Reply(raw=raw))
    with pytest.raises(TransientDeliveryError) as caught:
        await notifier_for(client, receiver.url()).send(make_alert())
    assert "\n" not in str(caught.value)


async def test_a_status_received_is_the_answer_even_if_the_body_breaks(
    receiver: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    receiver.script(Reply(raw=b"HTTP/1.1 202 Accepted\r\nContent-Length: 10\r\n\r\nab"))
    assert await notifier_for(client, receiver.url()).send(make_alert()) == "202 Accepted"


async def test_a_status_received_in_time_is_the_answer_even_if_the_body_stalls(
    receiver: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    head = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 30\r\nContent-Length: 99\r\n\r\n"
    receiver.script(Reply(raw=head + b"busy", hang=True))
    with pytest.raises(TransientDeliveryError, match="answered 503 Service Unavailable: busy"):
        await notifier_for(client, receiver.url(), timeout=0.3).send(make_alert())


async def test_receiver_that_never_answers_times_out_as_transient(
    receiver: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    receiver.script(Reply(hang=True))
    started = time.monotonic()
    with pytest.raises(TransientDeliveryError, match=r"no answer within 0\.3s"):
        await notifier_for(client, receiver.url(), timeout=0.3).send(make_alert())
    assert time.monotonic() - started < 2
    assert len(receiver.requests) == 1


async def test_custom_headers_arrive_after_the_standard_ones(
    receiver: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    headers = {"X-Api-Key": "k-123", "Authorization": "Bearer tok"}
    await notifier_for(client, receiver.url(), headers=headers).send(make_alert())
    [request] = await receiver.wait_for(1)
    assert request.headers["x-api-key"] == "k-123"
    assert request.headers["authorization"] == "Bearer tok"


async def test_webhook_id_is_stable_and_timestamp_fresh_across_sends(
    receiver: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    notifier = notifier_for(client, receiver.url(), secret=WHSEC)
    await notifier.send(make_alert(delivery_id="dlv-stable"))
    await notifier.send(make_alert(delivery_id="dlv-stable"))
    await notifier.send(make_alert(delivery_id="dlv-other"))
    first, second, third = await receiver.wait_for(3)
    assert first.webhook_id == second.webhook_id == "dlv-stable"
    assert third.webhook_id == "dlv-other"
    for request in (first, second, third):  # each one verifies on its own
        Webhook(WHSEC).verify(request.body, request.headers)


async def test_credentials_in_the_url_become_basic_auth(
    receiver: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    url = receiver.url("/hook").replace("http://", "http://user:pa55@")
    await notifier_for(client, url).send(make_alert())
    [request] = await receiver.wait_for(1)
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"user:pa55").decode()


# ---- secrets ------------------------------------------------------------------------------------
SECRETS = ("T0KEN123", "token=abc", "pa55word-secret", WHSEC, "Bearer-t0ken-value")


def assert_no_secret(exc: BaseException, signature: str | None = None) -> None:
    """Neither the message nor the whole traceback chain holds a secret."""
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    for secret in (*SECRETS, *([signature] if signature else [])):
        for text in texts:
            assert secret not in text, f"{secret!r} leaked into {text!r}"


def secret_url(port: int) -> str:
    return f"http://admin:pa55word-secret@127.0.0.1:{port}/hook/T0KEN123?token=abc"


async def test_no_secret_in_an_error_echoing_the_request(
    receiver: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    def echo(request: Received) -> Reply:
        text = f"Cannot POST {request.path}; got {json.dumps(request.headers)}"
        return Reply(403, body=text.encode())

    receiver.script(echo)
    headers = {"Authorization": "Bearer-t0ken-value"}
    notifier = notifier_for(client, secret_url(receiver.port), secret=WHSEC, headers=headers)
    with pytest.raises(PermanentDeliveryError) as caught:
        await notifier.send(make_alert())
    [request] = receiver.requests
    assert request.path == "/hook/T0KEN123?token=abc"  # the secrets did go out, and came back
    assert "answered 403 Forbidden: Cannot POST ***" in str(caught.value)
    assert_no_secret(caught.value, request.headers["webhook-signature"])


TRANSIENT_FAULTS = {
    "timeout": Reply(hang=True),
    "500": Reply(500),
    "garbage": Reply(raw=b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n"),
    "hang-up": Reply(raw=b""),
    "refused": Reply(),
}


@pytest.mark.parametrize("fault", list(TRANSIENT_FAULTS))
async def test_no_secret_in_transient_errors(
    receiver: WebhookReceiver, client: httpx.AsyncClient, fault: str
) -> None:
    receiver.script(TRANSIENT_FAULTS[fault])
    with closed_port() as closed:
        port = closed if fault == "refused" else receiver.port
        notifier = notifier_for(client, secret_url(port), secret=WHSEC, timeout=0.3)
        with pytest.raises(TransientDeliveryError) as caught:
            await notifier.send(make_alert())
    assert_no_secret(caught.value)
    assert f"(http://admin:***@127.0.0.1:{port}/…)" in str(caught.value)


async def test_bad_options_are_config_errors_without_the_secret(
    client: httpx.AsyncClient,
) -> None:
    with pytest.raises(ConfigError) as caught:
        notifier_for(client, "http://127.0.0.1/hook", secret="whsec_!T0KEN123!")
    assert caught.value.field == "secret" and "T0KEN123" not in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        notifier_for(client, "http://[T0KEN123/hook")
    assert caught.value.field == "url" and "T0KEN123" not in str(caught.value)


async def test_unsupported_scheme_is_permanent_without_the_secret(
    client: httpx.AsyncClient,
) -> None:
    notifier = notifier_for(client, secret_url(21).replace("http:", "ftp:"))
    with pytest.raises(PermanentDeliveryError) as caught:
        await notifier.send(make_alert())
    assert str(caught.value) == (
        "webhook ops (ftp://admin:***@127.0.0.1:21/…): request refused: unsupported or invalid URL"
    )
    assert_no_secret(caught.value)


def test_an_error_chain_quoting_a_secret_is_not_chained() -> None:
    scrub = _Scrubber(["/hook/T0KEN123"])
    try:
        try:
            raise OSError("failed on http://127.0.0.1/hook/T0KEN123")
        except OSError as inner:
            raise httpx.ConnectError("connection failed") from inner
    except httpx.ConnectError as outer:
        assert _safe_cause(outer, scrub) is None
        clean = httpx.ConnectError("connection failed")
        assert _safe_cause(clean, scrub) is clean


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A port that refuses connections: bound, not listening, and so ours (no other test can
    take it) until the block ends."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


# ---- the receiver, standalone -------------------------------------------------------------------
async def test_receiver_runs_standalone_and_logs_json_lines(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    out = tmp_path / "received.jsonl"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.webhookreceiver",
        "--port",
        "0",
        "--out",
        str(out),
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 20)
        port = int(line.decode().rsplit(" ", 1)[1])
        notifier = notifier_for(client, f"http://127.0.0.1:{port}/hook")
        assert await notifier.send(make_alert(delivery_id="dlv-7")) == "200 OK"
        # The line is written before the 200 goes out.
        [logged] = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
        assert logged["id"] == "dlv-7" and json.loads(logged["body"])["id"] == "a1b2c3"
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 10) == 0
