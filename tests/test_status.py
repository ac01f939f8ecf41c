"""The status server in-process, on a real store (SQLite and PostgreSQL) and real HTTP: the API's
token, its limits and errors, its own connections, and what a malformed request logs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from monitor.metrics import Metrics
from monitor.models import FeedStateUpdate, FeedStatus
from monitor.status import ApiLimits, StatusServer, is_loopback
from monitor.store import Store, open_store
from tests.test_store import FeedConf, article
from tests.test_store_alerts import hit

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
TOKEN = "s3cret-status-T0KEN"
DEFAULT_LIMITS = ApiLimits()
SECRET_URLS = {
    "basic": ("https://reader:PASSw0rd-1@feeds.example.org/a.xml", "PASSw0rd-1"),
    "token": ("https://feeds.example.org/b.xml?token=tok-2x9&q=news", "tok-2x9"),
    "code": ("https://feeds.example.org/c.xml?code=c0de-4z7", "c0de-4z7"),
    "path": ("https://feeds.example.org/f/AbCdEf0123456789GhIjKl/rss.xml", "AbCdEf0123456789"),
}

Serve = Callable[..., Awaitable[tuple[StatusServer, httpx.AsyncClient]]]


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await open_store(database_url)
    try:
        feeds = [FeedConf(feed_id, url) for feed_id, (url, _) in SECRET_URLS.items()]
        await opened.sync_feeds([*feeds, FeedConf("wire")], now=NOW)
        update = FeedStateUpdate(polled_at=NOW, next_poll_at=NOW, status=FeedStatus.OK)
        items = [article("wire", f"k{i}", url=f"https://example.org/wire/{i}") for i in range(3)]
        matches = {item.key: [hit("treaty")] for item in items}
        await opened.record_poll("wire", update, items, matches=matches)
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def serve(store: Store) -> AsyncIterator[Serve]:
    started: list[tuple[StatusServer, httpx.AsyncClient]] = []

    async def start(
        host: str = "127.0.0.1", token: str | None = None, limits: ApiLimits = DEFAULT_LIMITS
    ) -> tuple[StatusServer, httpx.AsyncClient]:
        async def checks() -> dict[str, bool]:
            return {"config": True, "scheduler": True}

        server = StatusServer(
            f"{host}:0",
            store=store,
            metrics=Metrics("test"),
            checks=checks,
            clock=lambda: NOW + timedelta(minutes=1),
            token=token,
            limits=limits,
        )
        await server.start()
        client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10)
        started.append((server, client))
        return server, client

    yield start
    for server, client in started:
        await client.aclose()
        await server.stop()


async def test_api_feeds_shows_no_url_secret(serve: Serve) -> None:
    _, client = await serve()
    response = await client.get("/api/feeds")
    assert response.status_code == 200
    urls = {feed["id"]: feed["url"] for feed in response.json()}
    assert urls["token"] == "https://feeds.example.org/b.xml?token=***&q=news"
    for _, secret in SECRET_URLS.values():
        assert secret not in response.text


WINDOWS = [("", 3), ("?since=999999999d", 3), ("?since=1d&limit=2", 2), ("?limit=100000", 3)]
NONSENSE = [
    ("since=abc", "since"),
    ("since=-1d", "since"),
    ("since=99999999999999999999d", "since"),
    ("limit=-1", "limit"),
    ("limit=0", "limit"),
    ("limit=ten", "limit"),
]


async def test_alerts_windows_limits_and_nonsense(serve: Serve) -> None:
    _, client = await serve()
    for query, count in WINDOWS:  # a window longer than time is every alert, not a 500
        response = await client.get(f"/api/alerts{query}")
        assert response.status_code == 200, (query, response.text)
        assert len(response.json()) == count, query
    for query, named in NONSENSE:
        response = await client.get(f"/api/alerts?{query}")
        assert response.status_code == 400, query
        assert response.json()["error"].startswith(f"{named}: "), query


async def test_limit_is_capped_at_the_max_page(serve: Serve) -> None:
    _, client = await serve(limits=ApiLimits(max_page=2))
    assert len((await client.get("/api/alerts?limit=500")).json()) == 2


async def test_with_a_token_the_api_needs_it_and_health_stays_open(serve: Serve) -> None:
    _, client = await serve(token=TOKEN)
    assert (await client.get("/api/feeds")).status_code == 401
    wrong = await client.get("/api/alerts", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"
    right = await client.get("/api/feeds", headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200
    for path in ("/healthz", "/readyz", "/metrics"):
        assert (await client.get(path)).status_code == 200, path


async def test_off_loopback_without_a_token_the_api_is_refused(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="monitor.status"):
        _, client = await serve(host="0.0.0.0")
    assert any("without MONITOR_STATUS_TOKEN" in r.getMessage() for r in caplog.records)
    refused = await client.get("/api/feeds")
    assert refused.status_code == 403
    assert "MONITOR_STATUS_TOKEN" in refused.json()["error"]
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).status_code == 200


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False), ("::", False)],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


async def test_the_api_reads_through_connections_of_its_own(serve: Serve, store: Store) -> None:
    server, client = await serve(limits=ApiLimits(connections=2, in_flight=12, rate=100))
    api = server._api_store  # the reader the API uses
    assert api is not None and api is not store
    assert api.engine is not store.engine
    assert api.engine.pool.size() == 2  # type: ignore[attr-defined]
    responses = await asyncio.gather(*(client.get("/api/alerts") for _ in range(12)))
    assert {r.status_code for r in responses} == {200}


async def test_the_api_serves_at_most_its_rate_and_refuses_the_rest_after_a_delay(
    serve: Serve,
) -> None:
    _, client = await serve(limits=ApiLimits(rate=3, refusal_delay=0.3))
    loop = asyncio.get_running_loop()
    statuses, refusal_times = [], []
    for _ in range(5):  # back to back: far faster than 3 a second
        started = loop.time()
        response = await client.get("/api/alerts")
        statuses.append(response.status_code)
        if response.status_code == 429:
            refusal_times.append(loop.time() - started)
            assert response.headers["Retry-After"] == "1"
    assert statuses[:3] == [200, 200, 200]  # the bucket's burst
    assert 429 in statuses[3:]
    assert min(refusal_times) >= 0.3  # a client retrying at once is paced by the refusal


async def test_a_malformed_request_is_one_warning_line(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    server, _ = await serve()
    with caplog.at_level(logging.DEBUG):
        for request in (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n\x16\x03\x01garbage\r\n\r\n",
        ):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(request)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            await writer.wait_closed()
            assert b" 400 " in answer.split(b"\r\n")[-1] or b"400" in answer
    bad = [r for r in caplog.records if "malformed request" in r.getMessage()]
    assert [r.levelno for r in bad] == [logging.WARNING, logging.DEBUG]  # TLS bytes: DEBUG
    assert "Content-Length" in bad[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
