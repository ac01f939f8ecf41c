"""Fetching against the real feed server on 127.0.0.1: validators, content codings, redirects,
errors and their messages, the size cap, timeouts, and the concurrency limits."""

from __future__ import annotations

import asyncio
import base64
import gzip
import resource
import socket
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cache

import brotli
import httpx
import pytest

from monitor.errors import FetchError
from monitor.fetch import Fetcher, FetchLimits, Timeouts, create_client
from monitor.fetch.client import ACCEPT
from monitor.fetch.hosts import HostLimiter
from monitor.models import FetchResult, Validators
from tests.feedserver import (
    Behaviour,
    Document,
    FeedServer,
    InFlight,
    endless_body,
    garbage,
    held,
    redirect,
    stall_after_headers,
    status,
    trickle,
)

FEED = b"<rss version='2.0'><channel><title>Example</title></channel></rss>"
USER_AGENT = "feed-monitor-test/1.0 (+https://example.org/bot)"
KIB, MIB = 1024, 1024 * 1024
SMALL_CAP = FetchLimits(max_body_bytes=256 * KIB)
QUICK = Timeouts(connect=5.0, read=10.0, total=10.0)


@dataclass
class Fetching:
    """A client and a fetcher on it, with shortcuts for the common calls."""

    client: httpx.AsyncClient
    fetcher: Fetcher

    async def get(self, url: str, validators: Validators | None = None) -> FetchResult:
        return await self.fetcher.fetch(feed_id="f", url=url, validators=validators or Validators())

    async def fail(self, url: str, validators: Validators | None = None) -> FetchError:
        with pytest.raises(FetchError) as caught:
            await self.get(url, validators)
        assert caught.value.feed_id == "f"
        return caught.value


MakeFetching = Callable[..., Fetching]


@pytest.fixture
async def make_fetching() -> AsyncIterator[MakeFetching]:
    """A factory of fetchers; every client it made is closed after the test."""
    clients: list[httpx.AsyncClient] = []

    def make(*, limits: FetchLimits = SMALL_CAP, timeouts: Timeouts = QUICK) -> Fetching:
        client = create_client(user_agent=USER_AGENT, timeouts=timeouts, limits=limits)
        clients.append(client)
        return Fetching(client, Fetcher(client, limits=limits, timeouts=timeouts))

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def fetching(make_fetching: MakeFetching) -> Fetching:
    return make_fetching()


def elapsed_since(start: float) -> float:
    return asyncio.get_running_loop().time() - start


# ---- 200, codings, validators ---------------------------------------------------------------
async def test_a_feed_comes_back_with_body_and_metadata(
    feed_server: FeedServer, fetching: Fetching
) -> None:
    url = feed_server.serve(
        "/feed.xml", Document.of(FEED, headers={"Cache-Control": "public, max-age=300"})
    )
    result = await fetching.get(url)
    assert result.status_code == 200
    assert not result.not_modified
    assert result.body == FEED
    assert result.url == url
    assert result.permanent_url is None
    assert result.etag == feed_server.documents["/feed.xml"].etag
    assert result.last_modified == "Sun, 01 Nov 2026 12:00:00 GMT"
    assert result.content_type == "application/rss+xml; charset=utf-8"
    assert result.max_age_seconds == 300.0


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate"])
async def test_compressed_bodies_are_decoded(
    feed_server: FeedServer, fetching: Fetching, encoding: str
) -> None:
    body = FEED * 200  # big enough that the coding really shrinks it
    url = feed_server.serve("/feed.xml", Document.of(body, encoding=encoding))
    result = await fetching.get(url)
    assert result.body == body


async def test_client_headers_arrive(feed_server: FeedServer, fetching: Fetching) -> None:
    url = feed_server.serve("/feed.xml", Document.of(FEED))
    await fetching.get(url)
    (seen,) = feed_server.hits("/feed.xml")
    assert seen.headers["User-Agent"] == USER_AGENT
    assert seen.headers["Accept"] == ACCEPT
    assert seen.headers["Accept"].startswith("application/rss+xml, application/atom+xml")
    assert seen.headers["Accept-Encoding"] == "gzip, deflate, br"
    assert "If-None-Match" not in seen.headers
    assert "If-Modified-Since" not in seen.headers
    assert "Cookie" not in seen.headers


async def test_validators_are_sent_back_and_304_has_no_body(
    feed_server: FeedServer, fetching: Fetching
) -> None:
    url = feed_server.serve("/feed.xml", Document.of(FEED))
    first = await fetching.get(url)
    assert first.etag and first.last_modified
    validators = Validators(etag=first.etag, last_modified=first.last_modified)

    second = await fetching.get(url, validators)

    assert second.not_modified
    assert second.status_code == 304
    assert second.body is None
    assert (second.etag, second.last_modified) == (first.etag, first.last_modified)
    sent = feed_server.hits("/feed.xml")[1].headers
    assert sent["If-None-Match"] == first.etag
    assert sent["If-Modified-Since"] == first.last_modified  # verbatim


async def test_last_modified_alone_gives_a_304(feed_server: FeedServer, fetching: Fetching) -> None:
    url = feed_server.serve("/feed.xml", Document.of(FEED, etag=None))
    first = await fetching.get(url)
    assert first.etag is None
    second = await fetching.get(url, Validators(last_modified=first.last_modified))
    assert second.not_modified
    assert "If-None-Match" not in feed_server.hits("/feed.xml")[1].headers


@pytest.mark.parametrize(
    ("headers", "expected_etag", "expected_last_modified"),
    [
        ({}, '"old"', "Sat, 01 Nov 2025 00:00:00 GMT"),
        ({"ETag": '"new"'}, '"new"', "Sat, 01 Nov 2025 00:00:00 GMT"),
    ],
    ids=["keeps-old", "takes-new-etag"],
)
async def test_a_304_keeps_the_validators_it_does_not_replace(
    feed_server: FeedServer,
    fetching: Fetching,
    headers: dict[str, str],
    expected_etag: str,
    expected_last_modified: str,
) -> None:
    feed_server.script("/feed.xml", status(304, headers))
    old = Validators(etag='"old"', last_modified="Sat, 01 Nov 2025 00:00:00 GMT")
    result = await fetching.get(feed_server.url("/feed.xml"), old)
    assert result.not_modified
    assert (result.etag, result.last_modified) == (expected_etag, expected_last_modified)


# ---- redirects ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("codes", "permanent"),
    [
        ([301], True),
        ([308], True),
        ([301, 308], True),
        ([302], False),
        ([303], False),
        ([307], False),
        ([301, 302], False),
        ([307, 301], False),
    ],
    ids=["301", "308", "301-308", "302", "303", "307", "301-302", "307-301"],
)
async def test_redirects_are_followed_and_only_all_permanent_moves_the_feed(
    feed_server: FeedServer, fetching: Fetching, codes: list[int], permanent: bool
) -> None:
    final = feed_server.serve("/final.xml", Document.of(FEED))
    paths = [f"/hop{i}" for i in range(len(codes))] + ["/final.xml"]
    for here, there, code in zip(paths, paths[1:], codes, strict=False):
        feed_server.script(here, redirect(code, feed_server.url(there)))

    result = await fetching.get(feed_server.url("/hop0"))

    assert result.body == FEED
    assert result.url == final
    assert result.permanent_url == (final if permanent else None)


@pytest.mark.parametrize(
    ("location", "final_path"),
    [("../feeds/new.xml", "/feeds/new.xml"), ("/feeds/new.xml", "/feeds/new.xml")],
    ids=["dot-dot", "absolute-path"],
)
async def test_a_relative_location_is_resolved(
    feed_server: FeedServer, fetching: Fetching, location: str, final_path: str
) -> None:
    feed_server.serve(final_path, Document.of(FEED))
    feed_server.script("/old/feed.xml", redirect(301, location))
    result = await fetching.get(feed_server.url("/old/feed.xml"))
    assert result.url == feed_server.url(final_path)
    assert result.permanent_url == feed_server.url(final_path)


async def test_a_redirect_loop_fails(feed_server: FeedServer, fetching: Fetching) -> None:
    feed_server.script("/a", redirect(302, "/b"))
    feed_server.script("/b", redirect(302, "/a"))
    error = await fetching.fail(feed_server.url("/a"))
    assert error.reason == "redirect loop after 2 requests"
    assert error.status_code is None


@pytest.mark.parametrize(("hops", "ok"), [(3, True), (4, False)], ids=["at-limit", "over-limit"])
async def test_redirects_are_capped(
    feed_server: FeedServer, make_fetching: MakeFetching, hops: int, ok: bool
) -> None:
    fetching = make_fetching(limits=FetchLimits(max_redirects=3))
    feed_server.serve(f"/r{hops}", Document.of(FEED))
    for i in range(hops):
        feed_server.script(f"/r{i}", redirect(301, f"/r{i + 1}"))
    if ok:
        assert (await fetching.get(feed_server.url("/r0"))).body == FEED
    else:
        error = await fetching.fail(feed_server.url("/r0"))
        assert error.reason == "too many redirects (more than 3)"
        assert len(feed_server.hits(f"/r{hops}")) == 0


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        (status(302), "HTTP 302 redirect without a Location"),
        (redirect(301, "ftp://127.0.0.1/feed"), "unsupported URL scheme 'ftp'"),
        (redirect(301, "file:///etc/passwd"), "unsupported URL scheme 'file'"),
    ],
    ids=["no-location", "ftp", "file"],
)
async def test_a_bad_redirect_fails(
    feed_server: FeedServer, fetching: Fetching, behaviour: Behaviour, reason: str
) -> None:
    feed_server.script("/feed.xml", behaviour)
    error = await fetching.fail(feed_server.url("/feed.xml"))
    assert error.reason == reason


async def test_credentials_become_basic_auth(feed_server: FeedServer, fetching: Fetching) -> None:
    feed_server.serve("/private.xml", Document.of(FEED))
    url = f"http://reader:hunter2@127.0.0.1:{feed_server.port}/private.xml"
    assert (await fetching.get(url)).body == FEED
    (seen,) = feed_server.hits("/private.xml")
    assert seen.headers["Authorization"] == "Basic " + base64.b64encode(b"reader:hunter2").decode()


# ---- HTTP errors ----------------------------------------------------------------------------
def _in_two_minutes() -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)


@pytest.mark.parametrize("code", [429, 503])
@pytest.mark.parametrize("form", ["seconds", "http-date"])
async def test_retry_after_is_read_on_429_and_503(
    feed_server: FeedServer, fetching: Fetching, code: int, form: str
) -> None:
    value = "120" if form == "seconds" else _in_two_minutes()
    feed_server.script("/feed.xml", status(code, {"Retry-After": value}))
    error = await fetching.fail(feed_server.url("/feed.xml"))
    assert error.status_code == code
    assert error.retry_after is not None
    assert 110.0 <= error.retry_after <= 120.0


@pytest.mark.parametrize(
    ("code", "reason", "headers"),
    [
        (404, "HTTP 404 Not Found", {}),
        (410, "HTTP 410 Gone", {}),
        (500, "HTTP 500 Internal Server Error", {"Retry-After": "120"}),
        (503, "HTTP 503 Service Unavailable", {"Retry-After": "whenever"}),
        (300, "HTTP 300 Multiple Choices", {}),
    ],
    ids=["404", "410", "500-ignores-retry-after", "503-garbage-retry-after", "300"],
)
async def test_error_statuses_fail_with_the_code(
    feed_server: FeedServer,
    fetching: Fetching,
    code: int,
    reason: str,
    headers: dict[str, str],
) -> None:
    feed_server.script("/feed.xml", status(code, headers, body=b"<html>oops</html>"))
    error = await fetching.fail(feed_server.url("/feed.xml"))
    assert error.status_code == code
    assert error.reason == reason
    assert error.retry_after is None


async def test_an_error_after_a_redirect_says_so(
    feed_server: FeedServer, fetching: Fetching
) -> None:
    feed_server.script("/feed.xml", redirect(302, "/gone.xml"))
    feed_server.script("/gone.xml", status(404))
    error = await fetching.fail(feed_server.url("/feed.xml"))
    assert error.reason == "HTTP 404 Not Found (after a redirect)"


# ---- network errors -------------------------------------------------------------------------
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_connection_refused_fails_fast(fetching: Fetching) -> None:
    start = asyncio.get_running_loop().time()
    error = await fetching.fail(f"http://127.0.0.1:{closed_port()}/feed.xml")
    assert error.reason == "connection refused"
    assert isinstance(error.__cause__, httpx.ConnectError)
    assert elapsed_since(start) < 3.0


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://127.0.0.1/feed.xml", "unsupported URL scheme 'ftp'"),
        ("http:///feed.xml", "URL has no host"),
        ("http://127.0.0.1:99999/feed.xml", "invalid port 99999"),
        ("http://[::1/feed.xml", "invalid URL"),
    ],
    ids=["ftp", "no-host", "bad-port", "bad-ipv6"],
)
async def test_a_bad_url_fails_without_a_request(fetching: Fetching, url: str, reason: str) -> None:
    error = await fetching.fail(url)
    assert error.reason == reason


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", "invalid HTTP response"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n<rss>",
            "connection lost while reading the response",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "invalid HTTP response",
        ),
    ],
    ids=["not-http", "truncated", "bad-chunk"],
)
async def test_a_malformed_response_fails(
    feed_server: FeedServer, fetching: Fetching, data: bytes, reason: str
) -> None:
    feed_server.script("/feed.xml", garbage(data))
    error = await fetching.fail(feed_server.url("/feed.xml"))
    assert error.reason == reason


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"Content-Encoding": "compress"}, FEED),
        ({"Content-Encoding": "gzip, br"}, brotli.compress(gzip.compress(FEED))),
        ({"Content-Encoding": "gzip"}, b"not gzip"),
    ],
    ids=["unknown-coding", "stacked-codings", "corrupt-gzip"],
)
async def test_an_undecodable_body_fails(
    feed_server: FeedServer, fetching: Fetching, headers: dict[str, str], body: bytes
) -> None:
    feed_server.script("/feed.xml", status(200, headers, body=body))
    error = await fetching.fail(feed_server.url("/feed.xml"))
    assert error.reason == "could not decode the response body"
    assert isinstance(error.__cause__, httpx.DecodingError)


async def test_coding_names_are_case_insensitive(
    feed_server: FeedServer, fetching: Fetching
) -> None:
    feed_server.script("/feed.xml", status(200, {"Content-Encoding": "GZip"}, gzip.compress(FEED)))
    assert (await fetching.get(feed_server.url("/feed.xml"))).body == FEED


async def test_a_304_in_an_unknown_coding_is_fine(
    feed_server: FeedServer, fetching: Fetching
) -> None:
    feed_server.script("/feed.xml", status(304, {"Content-Encoding": "compress"}))
    assert (await fetching.get(feed_server.url("/feed.xml"), Validators(etag='"x"'))).not_modified


# ---- size cap -------------------------------------------------------------------------------
async def test_an_endless_body_stops_at_the_cap(
    feed_server: FeedServer, fetching: Fetching
) -> None:
    feed_server.script("/feed.xml", endless_body())
    start = asyncio.get_running_loop().time()
    error = await fetching.fail(feed_server.url("/feed.xml"))
    assert error.reason == "response larger than 256 KiB"
    assert error.status_code == 200
    assert elapsed_since(start) < 5.0


@pytest.mark.parametrize(
    ("size", "ok"), [(256 * KIB, True), (256 * KIB + 1, False)], ids=["at-cap", "over-cap"]
)
async def test_the_cap_is_on_the_body_size(
    feed_server: FeedServer, fetching: Fetching, size: int, ok: bool
) -> None:
    body = b"x" * size
    url = feed_server.serve("/feed.xml", Document.of(body))  # sends Content-Length
    if ok:
        assert (await fetching.get(url)).body == body
    else:
        assert (await fetching.fail(url)).reason == "response larger than 256 KiB"


async def test_the_default_cap_is_ten_mib(
    feed_server: FeedServer, make_fetching: MakeFetching
) -> None:
    fetching = make_fetching(limits=FetchLimits())
    feed_server.script("/feed.xml", endless_body())
    assert (await fetching.fail(feed_server.url("/feed.xml"))).reason == (
        "response larger than 10 MiB"
    )


@cache
def bomb(encoding: str) -> bytes:
    """100 MB of zeros compressed, built in 1 MiB steps so the test itself stays small."""
    zeros = bytes(MIB)
    if encoding == "br":
        compressor = brotli.Compressor(quality=5)
        packed = [compressor.process(zeros) for _ in range(100)] + [compressor.finish()]
        return b"".join(packed)
    wbits = {"gzip": 31, "deflate": 15}[encoding]
    packer = zlib.compressobj(9, wbits=wbits)
    return b"".join(packer.compress(zeros) for _ in range(100)) + packer.flush()


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate"])
async def test_a_compression_bomb_stops_at_the_cap_without_inflating(
    feed_server: FeedServer, make_fetching: MakeFetching, encoding: str
) -> None:
    fetching = make_fetching(limits=FetchLimits(max_body_bytes=MIB))
    payload = bomb(encoding)
    assert len(payload) < 200 * KIB
    feed_server.script("/feed.xml", status(200, {"Content-Encoding": encoding}, body=payload))
    before = peak_rss()

    error = await fetching.fail(feed_server.url("/feed.xml"))

    assert error.reason == "response larger than 1 MiB"
    assert peak_rss() - before < 50 * MIB


# ---- timeouts -------------------------------------------------------------------------------
@pytest.mark.parametrize("stalling", ["stall-after-headers", "trickle"])
async def test_a_slow_server_fails_at_the_total_deadline(
    feed_server: FeedServer, make_fetching: MakeFetching, stalling: str
) -> None:
    fetching = make_fetching(timeouts=Timeouts(connect=5.0, read=10.0, total=1.0))
    behaviour = stall_after_headers(feed_server) if stalling != "trickle" else trickle(0.05)
    feed_server.script("/feed.xml", behaviour)
    start = asyncio.get_running_loop().time()

    error = await fetching.fail(feed_server.url("/feed.xml"))

    assert error.reason == "timed out after 1 s"
    assert isinstance(error.__cause__, TimeoutError)
    assert 0.9 <= elapsed_since(start) < 3.0


async def test_a_silent_server_fails_at_the_read_timeout(
    feed_server: FeedServer, make_fetching: MakeFetching
) -> None:
    fetching = make_fetching(timeouts=Timeouts(connect=5.0, read=0.2, total=10.0))
    feed_server.script("/feed.xml", stall_after_headers(feed_server))
    start = asyncio.get_running_loop().time()
    error = await fetching.fail(feed_server.url("/feed.xml"))
    assert error.reason == "read timed out after 0.2 s"
    assert isinstance(error.__cause__, httpx.ReadTimeout)
    assert elapsed_since(start) < 3.0


async def test_cancelling_a_fetch_cancels_it_and_frees_its_slot(
    feed_server: FeedServer, fetching: Fetching
) -> None:
    counter = InFlight()
    feed_server.script("/feed.xml", held(feed_server, counter))
    task = asyncio.create_task(fetching.get(feed_server.url("/feed.xml")))
    await counter.wait_until(1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fetching.fetcher.limiter.hosts_tracked == 0


# ---- secrets --------------------------------------------------------------------------------
SECRET = "hunter2"


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The exceptions a traceback of `error` prints."""
    current: BaseException | None = error
    while current is not None:
        yield current
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )


@pytest.mark.parametrize(
    "scenario", ["refused", "status", "too-large", "timeout", "malformed", "redirect-loop"]
)
async def test_errors_never_show_the_url_secrets(
    feed_server: FeedServer, make_fetching: MakeFetching, scenario: str
) -> None:
    fetching = make_fetching(timeouts=Timeouts(connect=5.0, read=10.0, total=0.3))
    port = closed_port() if scenario == "refused" else feed_server.port
    path = f"/feed.xml?token={SECRET}&page=1"
    behaviours = {
        "status": status(500),
        "too-large": endless_body(),
        "timeout": stall_after_headers(feed_server),
        "malformed": garbage(b"NOT HTTP\r\n\r\n"),
        "redirect-loop": redirect(302, path),
    }
    if scenario in behaviours:
        feed_server.script(path, behaviours[scenario])
        feed_server.script(path, behaviours[scenario])

    error = await fetching.fail(f"http://reader:{SECRET}@127.0.0.1:{port}{path}")

    assert error.url == f"http://reader:***@127.0.0.1:{port}/feed.xml?token=***&page=1"
    assert SECRET not in repr(error)
    for exc in _chain(error):
        assert SECRET not in str(exc), f"{type(exc).__name__}: {exc}"


# ---- concurrency limits ---------------------------------------------------------------------
async def test_per_host_limit_holds_while_other_hosts_are_served(
    feed_server: FeedServer, make_fetching: MakeFetching
) -> None:
    fetching = make_fetching(limits=FetchLimits(per_host=2))
    counter = InFlight()
    for i in range(5):
        feed_server.script(f"/slow{i}.xml", held(feed_server, counter))
    feed_server.serve("/fast.xml", Document.of(FEED))
    slow = [asyncio.create_task(fetching.get(feed_server.url(f"/slow{i}.xml"))) for i in range(5)]
    await counter.wait_until(2)

    # Another host name for the same server: it has its own slots.
    fast = await fetching.get(f"http://localhost:{feed_server.port}/fast.xml")

    assert fast.body == FEED
    assert counter.now == 2
    assert sum(len(feed_server.hits(f"/slow{i}.xml")) for i in range(5)) == 2
    feed_server.release.set()
    results = await asyncio.gather(*slow)
    assert [r.status_code for r in results] == [200] * 5
    assert counter.peak == 2
    assert fetching.fetcher.limiter.hosts_tracked == 0


async def test_waiting_for_a_host_slot_does_not_count_against_the_deadline(
    feed_server: FeedServer, make_fetching: MakeFetching
) -> None:
    fetching = make_fetching(
        limits=FetchLimits(per_host=1), timeouts=Timeouts(connect=5.0, read=10.0, total=0.5)
    )
    feed_server.script("/stuck.xml", stall_after_headers(feed_server))
    feed_server.serve("/feed.xml", Document.of(FEED))
    stuck = asyncio.create_task(fetching.get(feed_server.url("/stuck.xml")))
    queued = asyncio.create_task(fetching.get(feed_server.url("/feed.xml")))

    with pytest.raises(FetchError, match=r"timed out after 0\.5 s"):
        await stuck
    result = await queued  # waited about 0.5 s for the slot, then had its own 0.5 s

    assert result.body == FEED
    assert feed_server.hits("/feed.xml")[0].at >= feed_server.hits("/stuck.xml")[0].at + 0.4


async def test_host_limiter_caps_each_host_and_the_total() -> None:
    limiter = HostLimiter(global_limit=3, per_host=2)
    inside: dict[str, int] = {}
    peaks: dict[str, int] = {}
    entered = asyncio.Event()
    gate = asyncio.Event()

    async def hold(host: str) -> None:
        async with limiter.slot(host):
            inside[host] = inside.get(host, 0) + 1
            peaks[host] = max(peaks.get(host, 0), inside[host])
            if sum(inside.values()) == 3:
                entered.set()
            await gate.wait()
            inside[host] -= 1

    tasks = [
        asyncio.create_task(hold(h)) for h in ["a.example", "A.EXAMPLE", "a.example", "b", "c"]
    ]
    await entered.wait()
    assert sum(inside.values()) == 3
    assert inside.get("a.example", 0) + inside.get("A.EXAMPLE", 0) <= 2
    assert limiter.hosts_tracked == 3
    gate.set()
    await asyncio.gather(*tasks)
    assert limiter.hosts_tracked == 0


async def test_host_limiter_forgets_a_host_whose_waiter_was_cancelled() -> None:
    limiter = HostLimiter(global_limit=10, per_host=1)
    holding = asyncio.Event()
    done = asyncio.Event()

    async def hold() -> None:
        async with limiter.slot("example.org"):
            holding.set()
            await done.wait()

    async def wait() -> None:
        async with limiter.slot("example.org"):
            raise AssertionError("never gets the slot")  # pragma: no cover

    holder = asyncio.create_task(hold())
    await holding.wait()
    waiter = asyncio.create_task(wait())
    await asyncio.sleep(0)  # one step of the waiter: it queues on the host's semaphore
    assert limiter.users("example.org") == 2
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert limiter.hosts_tracked == 1
    done.set()
    await holder
    assert limiter.hosts_tracked == 0


@pytest.mark.parametrize(("global_limit", "per_host"), [(0, 1), (1, 0)], ids=["global", "host"])
def test_host_limiter_rejects_a_zero_limit(global_limit: int, per_host: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        HostLimiter(global_limit=global_limit, per_host=per_host)
