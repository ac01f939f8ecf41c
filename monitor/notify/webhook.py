"""The webhook notifier: POSTs a rendered message, signed (Standard Webhooks), and classifies
the answer: 2xx delivered; 408, 429, 5xx and network failures transient; any other status
permanent. No message it raises holds the URL's token, the secret or the signature.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.cookiejar
import time
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import httpx
import jinja2
from httpx_aiohttp import AiohttpTransport

from monitor.errors import ConfigError, PermanentDeliveryError, TransientDeliveryError
from monitor.models import parse_retry_after, utc_now
from monitor.notify.base import WebhookOptions
from monitor.notify.formats import body_content_type, load_template, render_body
from monitor.notify.messages import Outgoing
from monitor.notify.signing import signing_key, webhook_headers
from monitor.redact import REDACTED, redact_url

__all__ = ["MAX_RESPONSE_BYTES", "WebhookNotifier", "create_webhook_client"]

MAX_RESPONSE_BYTES = 64 * 1024  # of a receiver's answer: enough for an error message
MAX_CONNECTIONS = 100
MAX_CONNECTIONS_PER_HOST = 20
EXCERPT_CHARS = 200
# 408 Request Timeout, 429 Too Many Requests: the receiver asks us to come back (RFC 9110).
_RETRY_STATUSES = frozenset({408, 429})
_MAX_CHAIN = 10  # errors behind an error looked at for secrets
_MIN_SECRET_FRAGMENT = 8  # shorter URL parts are not tokens, and would blank out plain words


def create_webhook_client(user_agent: str) -> httpx.AsyncClient:
    """The HTTP client the webhook notifiers share. The caller closes it (`aclose()`).

    Redirects are not followed (a 3xx is a configuration error, and following one would send
    the signed body elsewhere) and cookies are never kept. Answers are asked for uncompressed,
    and read raw, so that the size cap on them holds on the bytes we keep.
    """
    return httpx.AsyncClient(
        transport=WebhookTransport(),
        headers={"User-Agent": user_agent, "Accept-Encoding": "identity"},
        follow_redirects=False,
        cookies=http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[])),
        trust_env=False,  # else httpx mounts its own transport for HTTP(S)_PROXY, bypassing ours
    )


class WebhookTransport(AiohttpTransport):
    """`AiohttpTransport` on a session with a connection limit, no cookie jar and no
    environment lookups (aiohttp would read ~/.netrc in a thread on every request)."""

    def get_client(self) -> aiohttp.ClientSession:
        # Called lazily by the parent on the first request, inside the running event loop.
        connector = aiohttp.TCPConnector(
            limit=MAX_CONNECTIONS,
            limit_per_host=MAX_CONNECTIONS_PER_HOST,
            ttl_dns_cache=300,
            ssl=self.ssl_context,
        )
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None),
            trust_env=False,
        )


class WebhookNotifier:
    """Sends messages to one webhook URL in one format (a `Notifier`)."""

    def __init__(
        self,
        notifier_id: str,
        options: WebhookOptions,
        client: httpx.AsyncClient,
        template: jinja2.Template | None = None,
    ) -> None:
        if template is None and options.format == "template" and options.template is not None:
            template = load_template(options.template)  # ConfigError names file and line
        self._id = notifier_id
        self._options = options
        self._client = client
        self._template = template
        self._content_type = body_content_type(options)
        try:
            self._target = _display_target(options.url)
            self._url, self._auth = _split_credentials(options.url)
            self._url_secrets = _url_secrets(options.url)
        except (ValueError, httpx.InvalidURL):
            raise ConfigError("invalid webhook URL", field="url") from None  # it may hold a token
        if options.secret:
            try:
                signing_key(options.secret)
            except ValueError as exc:
                raise ConfigError(str(exc), field="secret") from None

    @property
    def id(self) -> str:
        return self._id

    @property
    def concurrency(self) -> int:
        return self._options.concurrency

    async def aclose(self) -> None:
        """Nothing to release: the HTTP client is shared, and its owner closes it."""

    async def send(self, message: Outgoing) -> str:
        """POST `message`; returns e.g. "200 OK", or raises a Transient/PermanentDeliveryError."""
        body = render_body(message, self._options, self._template)
        headers = self._headers(message.delivery_id, body)
        scrub = _Scrubber(self._secret_fragments(headers))
        answer = _Answer()
        try:
            async with asyncio.timeout(self._options.timeout):
                await self._post(body, headers, answer)
        except TimeoutError:
            if answer.status is None:  # else the status came in time: it is the answer
                raise TransientDeliveryError(
                    f"{self._where()}: no answer within {self._options.timeout:g}s"
                ) from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL, ValueError) as exc:
            # Refused before anything was sent (a bad URL or header): it will never work.
            raise PermanentDeliveryError(
                f"{self._where()}: request refused: {_describe(exc, scrub)}"
            ) from _safe_cause(exc, scrub)
        except (httpx.TransportError, aiohttp.ClientError, OSError) as exc:
            raise TransientDeliveryError(
                f"{self._where()}: {_describe(exc, scrub)}"
            ) from _safe_cause(exc, scrub)
        return self._classify(answer, scrub)

    def _headers(self, delivery_id: str, body: bytes) -> dict[str, str]:
        headers = {"Content-Type": self._content_type}
        # webhook-id is the delivery id, the same on every retry, so receivers can drop repeats.
        headers |= webhook_headers(delivery_id, int(time.time()), body, self._options.secret)
        headers |= self._options.headers
        return headers

    async def _post(self, body: bytes, headers: dict[str, str], answer: _Answer) -> None:
        """Sends the request and fills `answer` as it comes: the status first, then at most
        MAX_RESPONSE_BYTES of the body, which only explains the status (its failure is not
        the delivery's)."""
        request = self._client.build_request(
            "POST",
            self._url,
            content=body,
            headers=headers,
            timeout=httpx.Timeout(self._options.timeout),
        )
        response = await self._client.send(request, auth=self._auth, stream=True)
        answer.status, answer.reason = response.status_code, response.reason_phrase
        answer.retry_after = parse_retry_after(response.headers.get("Retry-After"), utc_now())
        with contextlib.suppress(httpx.TransportError, aiohttp.ClientError, OSError):
            try:
                await _read_capped(response, answer.body, MAX_RESPONSE_BYTES)
            finally:
                await response.aclose()

    def _classify(self, answer: _Answer, scrub: _Scrubber) -> str:
        status = answer.status or 0
        answered = f"{status} {answer.reason}".strip()
        if 200 <= status < 300:
            return answered
        detail = f"{self._where()}: answered {answered}"
        excerpt = _one_line(scrub(answer.body.decode("utf-8", errors="replace")))
        if excerpt:
            detail += f": {excerpt}"
        if status in _RETRY_STATUSES or 500 <= status < 600:
            raise TransientDeliveryError(detail, retry_after=answer.retry_after)
        if 300 <= status < 400:
            detail += " (redirects are not followed: configure the final URL)"
        raise PermanentDeliveryError(detail)

    def _where(self) -> str:
        return f"webhook {self._id} ({self._target})"

    def _secret_fragments(self, headers: dict[str, str]) -> list[str]:
        """Everything secret this request carries, for scrubbing what comes back."""
        fragments = list(self._url_secrets)
        fragments += [headers.get("webhook-signature", ""), self._options.secret or ""]
        fragments += list(self._options.headers.values())
        return fragments


@dataclass
class _Answer:
    """What the receiver has answered so far."""

    status: int | None = None
    reason: str = ""
    retry_after: float | None = None
    body: bytearray = field(default_factory=bytearray)


def _split_credentials(url: str) -> tuple[httpx.URL, httpx.BasicAuth | None]:
    """The URL without userinfo, and its credentials as Basic auth: aiohttp refuses a request
    that has both credentials in the URL and the `Authorization` header httpx makes of them."""
    parsed = httpx.URL(url)
    if not parsed.userinfo:
        return parsed, None
    auth = httpx.BasicAuth(parsed.username, parsed.password)
    return parsed.copy_with(username=None, password=None), auth


def _display_target(url: str) -> str:
    """The URL as it may be shown: scheme and host (redacted) only. Its path is left out as
    well as its query, since chat services (Slack, Discord, Teams) put their token in the
    path, which `redact_url` keeps."""
    parts = urlsplit(url)
    origin = redact_url(f"{parts.scheme}://{parts.netloc}")
    return origin + "/…" if parts.path not in ("", "/") or parts.query else origin


def _url_secrets(url: str) -> list[str]:
    parts = urlsplit(url)
    fragments = [url, parts.path, parts.query, parts.password or ""]
    fragments += parts.path.split("/")
    fragments += [value for _, value in parse_qsl(parts.query, keep_blank_values=True)]
    return fragments


class _Scrubber:
    """Replaces secret fragments in a text (a receiver may echo the path or a header)."""

    def __init__(self, fragments: Iterable[str]) -> None:
        usable = {f for f in fragments if len(f) >= _MIN_SECRET_FRAGMENT}
        self._fragments = sorted(usable, key=len, reverse=True)  # longest first

    def __call__(self, text: str) -> str:
        for fragment in self._fragments:
            text = text.replace(fragment, REDACTED)
        return text

    def is_clean(self, text: str) -> bool:
        return all(fragment not in text for fragment in self._fragments)


def _describe(exc: BaseException, scrub: _Scrubber) -> str:
    """The error in one line of at most EXCERPT_CHARS characters, without secrets."""
    # These quote the request URL: say what they mean instead.
    if isinstance(exc, aiohttp.ClientResponseError):
        text = f"invalid answer: {exc.message}"
    elif isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL | aiohttp.InvalidURL):
        text = "unsupported or invalid URL"
    else:
        text = str(exc) or type(exc).__name__
    return _one_line(scrub(text))


def _safe_cause(exc: BaseException, scrub: _Scrubber) -> BaseException | None:
    """`exc` to chain from, or None (`from None`) when it or an error behind it quotes a secret:
    a traceback in a log would show them all."""
    if isinstance(exc, aiohttp.ClientResponseError | aiohttp.InvalidURL):
        return None  # they quote the URL: what they say is in the message already
    seen: BaseException | None = exc
    for _ in range(_MAX_CHAIN):
        if seen is None:
            break
        if not scrub.is_clean(str(seen)) or not scrub.is_clean(repr(seen)):
            return None
        seen = seen.__cause__ or seen.__context__
    return exc


async def _read_capped(response: httpx.Response, into: bytearray, limit: int) -> None:
    """Appends at most `limit` bytes of the answer, undecoded, to `into`; the rest is never
    read (closing the response then drops the connection)."""
    # aiter_raw is an async generator: close it now rather than when it is collected.
    raw = cast(AsyncGenerator[bytes, None], response.aiter_raw())
    async with contextlib.aclosing(raw) as chunks:
        async for chunk in chunks:
            into += chunk[: limit - len(into)]
            if len(into) >= limit:
                break


def _one_line(text: str, limit: int = EXCERPT_CHARS) -> str:
    """`text` with its whitespace collapsed, cut to `limit` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
