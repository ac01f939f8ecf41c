"""The one URL redactor: what it hides and what it keeps byte for byte."""

from __future__ import annotations

import pytest

from monitor.redact import REDACTED, redact_url

HIDDEN = [
    ("userinfo", "https://reader:PASS-w0rd@feeds.example.org/a.xml", "PASS-w0rd"),
    ("user-only", "https://TOKEN9user@feeds.example.org/a.xml", "TOKEN9user"),
    ("token", "https://example.org/rss?token=tok-123", "tok-123"),
    ("api-key", "https://example.org/rss?api_key=K3Y-v4lue&q=news", "K3Y-v4lue"),
    ("code", "https://example.org/rss?code=c0de-xyz", "c0de-xyz"),
    ("unknown-name", "https://example.org/rss?t=abc987", "abc987"),
    ("fragment", "https://example.org/rss#access_token=fr4g", "fr4g"),
    ("path-hash", "https://example.org/private-d41d8cd98f00b204e9800998ecf8427e/basic", "d41d8c"),
    ("path-key", "https://example.org/feeds/AbCdEf0123456789GhIjKl/rss.xml", "AbCdEf0123"),
    ("uuid", "https://example.org/feed/550e8400-e29b-41d4-a716-446655440000.xml", "550e8400"),
    ("slack", "https://hooks.slack.com/services/T0001/B0002/shortTok", "shortTok"),
    ("slack-bot", "https://hooks.slack.com/services/T0001/B0002/shortTok", "B0002"),
    ("discord", "https://discord.com/api/webhooks/1234567/ab-cd_EF", "ab-cd_EF"),
    ("telegram", "https://api.telegram.org/bot123456:AAH-abc_def/sendMessage", "AAH-abc_def"),
]


@pytest.mark.parametrize(
    ("url", "secret"), [(u, s) for _, u, s in HIDDEN], ids=[i for i, *_ in HIDDEN]
)
def test_secrets_are_hidden(url: str, secret: str) -> None:
    shown = redact_url(url)
    assert secret not in shown
    assert REDACTED in shown


KEPT = [
    ("google-news", "https://news.google.com/rss/search?q=armenia&hl=en-US&gl=US&ceid=US:en"),
    ("slug-with-year", "https://example.org/2024/05/armenia-azerbaijan-peace-treaty-2024.html"),
    ("paging", "https://example.org/feed/?format=rss&page=2&lang=fr&category=world"),
    ("services-path", "https://example.gov/services/rss/news.xml"),
    ("no-value", "https://example.org/rss?token=&flag"),
    ("percent-encoded", "https://example.org/rss?q=caf%C3%A9+news"),
    ("plain", "http://127.0.0.1:8080/a.xml"),
]


@pytest.mark.parametrize("url", [u for _, u in KEPT], ids=[i for i, _ in KEPT])
def test_public_urls_are_kept_byte_for_byte(url: str) -> None:
    assert redact_url(url) == url


def test_only_the_secret_parts_change() -> None:
    url = "https://bob:pw@example.org/a.xml?id=7&token=xyz&q=peace%20treaty"
    assert redact_url(url) == "https://bob:***@example.org/a.xml?id=7&token=***&q=peace%20treaty"
    hook = "https://discord.com/api/webhooks/1234567/ab-cd_EF"
    assert redact_url(hook) == "https://discord.com/api/webhooks/1234567/***"


def test_an_unparsable_url_is_hidden_whole() -> None:
    assert redact_url("http://[::1/rss?token=abc") == REDACTED
