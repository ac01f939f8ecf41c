"""One conditional GET of one feed: validators out and back, redirects followed by hand,
the decoded body read under a size cap, and one deadline over the whole exchange.

Every failure leaves as a `FetchError`; httpx's errors are translated in `map_fetch_errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import httpx

from monitor.errors import FetchError
from monitor.fetch.client import FeedClient, FeedResponse, FetchLimits, Timeouts
from monitor.fetch.hosts import HostLimiter
from monitor.fetch.policy import parse_max_age
from monitor.models import FetchResult, Validators, parse_retry_after, utc_now

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})  # RFC 9110 §15.4: the others do not move the resource
_RETRY_AFTER = frozenset({429, 503})  # RFC 6585 §4, RFC 9110 §15.6.4
_SCHEMES = frozenset({"http", "https"})


class Fetcher:
    """Fetches feeds through one shared client, within global and per-host limits."""

    def __init__(self, client: FeedClient, *, limits: FetchLimits, timeouts: Timeouts) -> None:
        self._transport = client.feed_transport
        self._limits = limits
        self._timeouts = timeouts
        self._limiter = HostLimiter(global_limit=limits.max_connections, per_host=limits.per_host)

    @property
    def limiter(self) -> HostLimiter:
        return self._limiter

    async def fetch(self, *, feed_id: str, url: str, validators: Validators) -> FetchResult:
        """GET `url`, conditionally on `validators`: a 200 with its body, or a 304 without.

        Raises `FetchError` for anything else. The `total` timeout runs from the moment the
        first request is sent (waiting for a free slot for the host does not count) to the
        last byte of the body, redirects included.
        """
        with map_fetch_errors(feed_id, url, timeouts=self._timeouts):
            async with asyncio.timeout(None) as deadline:
                attempt = _Attempt(feed_id, url, validators, deadline, self._timeouts.total)
                return await self._follow(attempt)

    async def _follow(self, attempt: _Attempt) -> FetchResult:
        url = attempt.checked(attempt.url)
        seen = [str(url)]
        permanent = True  # every hop so far was 301 or 308
        for _ in range(self._limits.max_redirects + 1):
            reply = await self._exchange(attempt, url, redirected=len(seen) > 1)
            if reply.status_code not in _REDIRECTS:
                moved = permanent and len(seen) > 1
                final = seen[-1]
                return reply.result(
                    final, attempt.validators, permanent_url=final if moved else None
                )
            permanent = permanent and reply.status_code in _PERMANENT
            url = attempt.redirect_target(url, reply)
            if str(url) in seen:
                raise attempt.error(f"redirect loop after {len(seen)} requests")
            seen.append(str(url))
        raise attempt.error(f"too many redirects (more than {self._limits.max_redirects})")

    async def _exchange(self, attempt: _Attempt, url: httpx.URL, *, redirected: bool) -> _Reply:
        """One request, in a slot for its host. Reads the body only of a 2xx answer."""
        async with self._limiter.slot(url.host):
            attempt.start_clock()
            async with self._transport.open(url, attempt.headers) as response:
                status = response.status_code
                if status in _REDIRECTS or status == 304:
                    return _Reply(status, response.headers, None)
                if not 200 <= status < 300:
                    raise attempt.status_error(response, redirected=redirected)
                body = await attempt.read_body(response, self._limits.max_body_bytes)
                return _Reply(status, response.headers, body)


@dataclass(frozen=True, slots=True)
class _Reply:
    status_code: int
    headers: Mapping[str, str]
    body: bytes | None

    def result(self, url: str, old: Validators, *, permanent_url: str | None) -> FetchResult:
        etag = self.headers.get("ETag")
        last_modified = self.headers.get("Last-Modified")
        if self.status_code == 304:  # RFC 9110 §15.4.5: a 304 may omit unchanged validators
            etag = etag or old.etag
            last_modified = last_modified or old.last_modified
        return FetchResult(
            status_code=self.status_code,
            url=url,
            permanent_url=permanent_url,
            body=self.body,
            etag=etag,
            last_modified=last_modified,
            content_type=self.headers.get("Content-Type"),
            max_age_seconds=parse_max_age(self.headers.get("Cache-Control")),
        )


@dataclass(slots=True)
class _Attempt:
    """What one `fetch` call knows: the feed, its validators, and its running deadline."""

    feed_id: str
    url: str
    validators: Validators
    deadline: asyncio.Timeout
    total: float

    @property
    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.validators.etag:
            headers["If-None-Match"] = self.validators.etag
        if self.validators.last_modified:
            headers["If-Modified-Since"] = self.validators.last_modified
        return headers

    def start_clock(self) -> None:
        if self.deadline.when() is None:
            self.deadline.reschedule(asyncio.get_running_loop().time() + self.total)

    def error(
        self, message: str, *, status_code: int | None = None, retry_after: float | None = None
    ) -> FetchError:
        return FetchError(
            message,
            feed_id=self.feed_id,
            url=self.url,
            status_code=status_code,
            retry_after=retry_after,
        )

    def checked(self, url: str | httpx.URL) -> httpx.URL:
        parsed = _checked_url(url) if isinstance(url, str) else _check_url(url)
        if isinstance(parsed, str):
            raise self.error(parsed)
        return parsed

    def redirect_target(self, url: httpx.URL, reply: _Reply) -> httpx.URL:
        location = reply.headers.get("Location")
        if not location:
            raise self.error(f"HTTP {reply.status_code} redirect without a Location")
        return self.checked(url.join(location.strip()))

    def status_error(self, response: FeedResponse, *, redirected: bool) -> FetchError:
        code = response.status_code
        message = f"HTTP {code} {httpx.codes.get_reason_phrase(code)}".rstrip()
        if redirected:
            message += " (after a redirect)"
        retry_after = None
        if code in _RETRY_AFTER:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), utc_now())
        return self.error(message, status_code=code, retry_after=retry_after)

    async def read_body(self, response: FeedResponse, cap: int) -> bytes:
        """The decoded body, refused as soon as it passes `cap` bytes: never held whole."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap:
            raise self.error(too_large(cap), status_code=response.status_code)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise self.error(too_large(cap), status_code=response.status_code)
            chunks.append(chunk)
        return b"".join(chunks)


def _check_url(parsed: httpx.URL) -> httpx.URL | str:
    """The URL if a feed can be fetched from it, else what is wrong with it."""
    if parsed.scheme not in _SCHEMES:
        return f"unsupported URL scheme {parsed.scheme[:20]!r}"
    if not parsed.host:
        return "URL has no host"
    if parsed.port is not None and not 0 < parsed.port < 65536:
        return f"invalid port {parsed.port}"
    return parsed


@functools.lru_cache(maxsize=16384)
def _checked_url(url: str) -> httpx.URL | str:
    """`_check_url` of a feed's URL, parsed once: the same URLs come back every cycle and
    httpx's parser is a fifth of a 304's cost. httpx.URL is immutable: safe to share. An
    invalid URL raises httpx.InvalidURL (not cached)."""
    return _check_url(httpx.URL(url))


def too_large(cap: int) -> str:
    """The size-cap message, e.g. "response larger than 10 MiB" (the largest whole unit)."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if cap % size == 0:
            return f"response larger than {cap // size} {unit}"
    return f"response larger than {cap} bytes"


@contextlib.contextmanager
def map_fetch_errors(feed_id: str, url: str, *, timeouts: Timeouts | None = None) -> Iterator[None]:
    """Turn the HTTP client's errors and the total deadline into `FetchError`, `from` them.

    The message says what happened in a few words; the cause's own text follows it in
    `str(error)` (hosts and ports, never the URL's userinfo or query).
    """
    limits = timeouts or Timeouts()
    try:
        yield
    except TimeoutError as exc:  # the total deadline of `Fetcher.fetch`
        message = f"timed out after {limits.total:g} s"
        raise FetchError(message, feed_id=feed_id, url=url) from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise FetchError(describe(exc, limits), feed_id=feed_id, url=url) from exc


def describe(exc: httpx.HTTPError | httpx.InvalidURL, timeouts: Timeouts) -> str:
    """A few words for an httpx error, the same whichever transport raised it."""
    if isinstance(exc, httpx.ConnectTimeout):
        return f"connect timed out after {timeouts.connect:g} s"
    if isinstance(exc, httpx.ReadTimeout):
        return f"read timed out after {timeouts.read:g} s"
    if isinstance(exc, httpx.ConnectError):
        return _connect_failure(exc)
    messages: tuple[tuple[type[Exception], str], ...] = (
        (httpx.TimeoutException, "timed out"),
        (httpx.ProxyError, "proxy error"),
        (httpx.UnsupportedProtocol, "unsupported URL scheme"),
        (httpx.InvalidURL, "invalid URL"),
        (httpx.DecodingError, "could not decode the response body"),
        (httpx.ReadError, "connection lost while reading the response"),
        (httpx.RemoteProtocolError, "invalid HTTP response"),
        (httpx.LocalProtocolError, "invalid request"),
        (httpx.NetworkError, "network error"),
    )
    for kind, message in messages:
        if isinstance(exc, kind):
            return message
    return f"HTTP client error ({type(exc).__name__})"


def _connect_failure(exc: BaseException) -> str:
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return "DNS lookup failed"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return "TLS certificate not trusted"
        if isinstance(cause, ssl.SSLError):
            return "TLS handshake failed"
    return "could not connect"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
