"""The one shared `httpx.AsyncClient` of the daemon, its settings, and its aiohttp transport.

httpx is the API; aiohttp moves the bytes (about 4x the requests per second of httpx's own
transport on the same machine). `FeedTransport` adapts `httpx_aiohttp.AiohttpTransport` where
it falls short for untrusted feeds: see its docstring.

Feed polls take a shorter way through the same transport, `FeedTransport.open`: one conditional
GET needs none of the client's layers (auth flows, redirects, cookies, header and URL merging),
which cost twice what aiohttp itself does per request (0.57 against 0.18 ms of CPU for a 304
here, see `tests/benchmarks/cycle.py`).
"""

from __future__ import annotations

import base64
import contextlib
import http.cookiejar
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import yarl
from aiohttp import http_exceptions
from httpx_aiohttp import AiohttpTransport

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
)
ACCEPT_ENCODING = "gzip, deflate, br"
# The codings aiohttp decodes itself, in bounded steps (its http_parser: the same test).
_DECODED_BY_AIOHTTP = frozenset({"gzip", "deflate", "br", "zstd"})


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. `connect` and `read` bound each step; `total` bounds a whole fetch, redirects
    and body included, so a server trickling bytes forever still fails in time."""

    connect: float = 10.0
    read: float = 20.0
    total: float = 30.0


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Caps on one response's decoded size, on connections, and on redirect hops."""

    max_body_bytes: int = 10 * 1024 * 1024
    max_connections: int = 100
    per_host: int = 4
    max_redirects: int = 5


class FeedClient(httpx.AsyncClient):
    """The daemon's httpx client, knowing its `FeedTransport` (for `FeedTransport.open`)."""

    def __init__(self, transport: FeedTransport, **kwargs: Any) -> None:
        super().__init__(transport=transport, **kwargs)
        self.feed_transport = transport


def create_client(*, user_agent: str, timeouts: Timeouts, limits: FetchLimits) -> FeedClient:
    """The daemon's one HTTP client. Close it with `await client.aclose()`.

    Redirects are not followed here: the `Fetcher` follows them itself, to learn whether every
    hop was permanent. Cookies are refused, so nothing one feed's server sets leaks into
    requests to another and the client keeps no state that grows with the number of feeds.
    """
    headers = {"User-Agent": user_agent, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING}
    return FeedClient(
        FeedTransport(limits, headers=headers, timeouts=timeouts),
        headers=headers,
        timeout=httpx_timeout(timeouts),
        follow_redirects=False,
        cookies=http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[])),
        trust_env=False,  # else httpx mounts its own transport for HTTP(S)_PROXY, bypassing ours
    )


def httpx_timeout(timeouts: Timeouts) -> httpx.Timeout:
    """Per-step timeouts; waiting for a pool slot is bounded by the fetch's total deadline."""
    return httpx.Timeout(
        connect=timeouts.connect, read=timeouts.read, write=timeouts.read, pool=None
    )


class FeedTransport(AiohttpTransport):
    """`AiohttpTransport` on our own `aiohttp.ClientSession`, with three changes.

    - Content codings are decoded by aiohttp, which inflates gzip, deflate and brotli in
      bounded steps; `Content-Encoding` is then removed so httpx does not decode again. (The
      parent turns aiohttp's decoding off and leaves it to httpx, whose brotli decoder inflates
      a whole chunk at once: 200 bytes of brotli can become 100 MB in one call.) A body in
      any other coding is refused with `httpx.DecodingError` when it is read.
    - aiohttp errors map to the right httpx errors (the parent reports "connection refused"
      as `ConnectTimeout`, and lets some aiohttp errors through unmapped).
    - The URL is sent as httpx encoded it, without userinfo: httpx already turned that into
      an `Authorization` header, which aiohttp refuses to combine with URL credentials.
    """

    def __init__(
        self,
        limits: FetchLimits,
        *,
        headers: Mapping[str, str] | None = None,
        timeouts: Timeouts | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._fetch_limits = limits
        self._headers = dict(headers or {})
        steps = timeouts or Timeouts()
        self._step_timeouts = aiohttp.ClientTimeout(
            total=None, sock_connect=steps.connect, sock_read=steps.read
        )

    def get_client(self) -> aiohttp.ClientSession:
        # Called lazily by the parent, on the first request, inside the running event loop.
        connector = aiohttp.TCPConnector(
            limit=self._fetch_limits.max_connections,
            limit_per_host=0,  # the Fetcher's HostLimiter does this, with fair queueing
            ttl_dns_cache=300,
            ssl=self.ssl_context,
        )
        return aiohttp.ClientSession(
            connector=connector,
            auto_decompress=True,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None),
            # Not trust_env: aiohttp would then read ~/.netrc in a thread on every request.
            trust_env=False,
        )

    def _session(self) -> aiohttp.ClientSession:
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        return self.client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        with map_aiohttp_errors():
            response = await self._session().request(
                request.method,
                yarl.URL(str(request.url.copy_with(userinfo=b"")), encoded=True),
                headers=request.headers.multi_items(),
                data=_request_body(request),
                allow_redirects=False,
                compress=False,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                    connect=timeout.get("pool"),
                ),
                server_hostname=request.extensions.get("sni_hostname"),
            )
        return httpx.Response(
            status_code=response.status,
            headers=_decoded_headers(response),
            stream=_ResponseStream(FeedResponse(response)),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    @contextlib.asynccontextmanager
    async def open(self, url: httpx.URL, headers: Mapping[str, str]) -> AsyncIterator[FeedResponse]:
        """GET `url` with the client's headers and `headers`, as `handle_async_request` would
        through the client (credentials in the URL become an `Authorization` header; errors are
        the same httpx errors); the connection is released on exit."""
        sent = {**self._headers, **headers}
        if url.userinfo:
            credentials = f"{url.username}:{url.password}".encode()
            sent["Authorization"] = "Basic " + base64.b64encode(credentials).decode("ascii")
            url = url.copy_with(userinfo=b"")
        with map_aiohttp_errors():
            response = await self._session().request(
                "GET",
                yarl.URL(str(url), encoded=True),
                headers=sent,
                allow_redirects=False,
                timeout=self._step_timeouts,
            )
        opened = FeedResponse(response)
        try:
            yield opened
        finally:
            await opened.release()


class FeedResponse:
    """A response opened by `FeedTransport.open`: status, headers and the decoded body."""

    __slots__ = ("_refusal", "_response")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self._refusal = _refusal(response)

    @property
    def status_code(self) -> int:
        return self._response.status

    @property
    def headers(self) -> Mapping[str, str]:
        """Case-insensitive; `get` gives the first value of a repeated header."""
        return self._response.headers

    async def release(self) -> None:
        """Give the connection back (an unfinished body closes it instead)."""
        self._response.release()
        await self._response.wait_for_close()

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body, decoded, in chunks as they arrive. Raises `httpx.DecodingError` for a
        content coding that is not decoded safely."""
        if self._refusal is not None:
            raise httpx.DecodingError(self._refusal)
        with map_aiohttp_errors():
            async for chunk in self._response.content.iter_any():
                yield chunk


def _request_body(request: httpx.Request) -> bytes | httpx.AsyncByteStream | None:
    try:
        return request.content or None
    except httpx.RequestNotRead:
        return request.stream  # type: ignore[return-value]  # an async byte stream


def _decoded_headers(response: aiohttp.ClientResponse) -> list[tuple[bytes, bytes]]:
    """The headers as httpx should see them once aiohttp has decoded the body."""
    return [(k, v) for k, v in response.raw_headers if k.lower() != b"content-encoding"]


def _refusal(response: aiohttp.ClientResponse) -> str | None:
    """Why the body must be refused, if it must: it is in a coding that aiohttp does not
    decode safely (and httpx must not decode either)."""
    codings = response.headers.getall("Content-Encoding", [])
    if not codings:
        return None
    coding = codings[0].lower() if codings[0].isascii() else codings[0]
    if len(codings) == 1 and coding in _DECODED_BY_AIOHTTP | {"", "identity"}:
        return None
    return f"unsupported Content-Encoding {', '.join(codings)[:40]!r}"


class _ResponseStream(httpx.AsyncByteStream):
    """A `FeedResponse`'s body for httpx; closing it releases the connection."""

    def __init__(self, response: FeedResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._response.aiter_bytes():
            yield chunk

    async def aclose(self) -> None:
        await self._response.release()


# Most specific first: several aiohttp errors are also TimeoutError or OSError.
_ERROR_MAP: tuple[tuple[type[BaseException], type[httpx.RequestError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (TimeoutError, httpx.TimeoutException),
    (aiohttp.ClientProxyConnectionError, httpx.ProxyError),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (http_exceptions.ContentEncodingError, httpx.DecodingError),
    (aiohttp.ClientPayloadError, httpx.ReadError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
    (http_exceptions.HttpProcessingError, httpx.RemoteProtocolError),
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.ClientConnectionError, httpx.NetworkError),
    (OSError, httpx.NetworkError),
    (aiohttp.ClientError, httpx.TransportError),
    (ValueError, httpx.LocalProtocolError),  # aiohttp or yarl refused the request itself
)


@contextlib.contextmanager
def map_aiohttp_errors() -> Iterator[None]:
    """Re-raise aiohttp's errors as the httpx error of the same meaning, chained to the original
    unless its text quotes the request URL (which may hold a token)."""
    try:
        yield
    except httpx.HTTPError:
        raise
    except (aiohttp.ClientError, http_exceptions.HttpProcessingError, OSError, ValueError) as exc:
        cause = exc.__cause__
        if isinstance(cause, http_exceptions.ContentEncodingError):  # wrapped in a payload error
            raise httpx.DecodingError(_describe(cause)) from exc
        for source, target in _ERROR_MAP:
            if isinstance(exc, source):
                raise target(_describe(exc)) from _safe_cause(exc)
        raise  # pragma: no cover - ValueError closes the map


def _quotes_url(exc: BaseException) -> bool:
    return isinstance(exc, aiohttp.ClientResponseError | aiohttp.InvalidURL) or (
        isinstance(exc, ValueError) and not isinstance(exc, OSError)
    )


def _safe_cause(exc: BaseException) -> BaseException | None:
    """What to chain from: `exc`, or for an error that quotes the URL, its own cause (None
    hides it from tracebacks: `raise ... from None`)."""
    return exc.__cause__ if _quotes_url(exc) else exc


def _describe(exc: BaseException) -> str:
    """One line of at most 200 characters, without the request URL."""
    if isinstance(exc, aiohttp.ClientResponseError):
        text = f"{exc.status}, {exc.message}"
    elif isinstance(exc, http_exceptions.HttpProcessingError):
        text = exc.message
    elif _quotes_url(exc):
        text = "invalid URL" if isinstance(exc, aiohttp.InvalidURL) else "invalid request"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:200]
