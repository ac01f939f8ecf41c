"""The status server on MONITOR_STATUS_ADDR: health, readiness, Prometheus metrics, and the feeds
and alerts as JSON.

    /healthz      200 "ok" while the process and its event loop answer
    /readyz       200 when the config is loaded, the store answers and the scheduler runs; else 503
    /metrics      Prometheus text format
    /api/feeds    as `monitor feeds --json`
    /api/alerts   as `monitor alerts --json`; ?since=1d&rule=R&limit=N (N at most 500)

A flood of API requests must not starve polling and delivery: the API reads through a store of
its own with `ApiLimits.connections` connections, answers 429 beyond `ApiLimits.in_flight`
requests at once or `ApiLimits.rate` a second (after a delay, so that retrying at once gains
nothing), and needs `Authorization: Bearer MONITOR_STATUS_TOKEN` when a token is set
(without one it is open on loopback only). Health, readiness and metrics stay open and share one
store round trip between concurrent callers.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from prometheus_client import CONTENT_TYPE_LATEST

from monitor.config.settings import parse_duration, parse_host_port
from monitor.errors import StoreError
from monitor.metrics import Metrics
from monitor.store import Store
from monitor.views import alert_json, feed_json

__all__ = ["ApiLimits", "StatusServer", "is_loopback"]

log = logging.getLogger(__name__)

READY_TIMEOUT = 2.0  # seconds for the store's answer to a readiness check
T = TypeVar("T")
Checks = Callable[[], Awaitable[dict[str, bool]]]


@dataclass(frozen=True, slots=True)
class ApiLimits:
    """What the JSON API may take of the process."""

    connections: int = 2  # database connections of its own, never the daemon's
    in_flight: int = 8  # requests served at once; more get 429
    # Requests served per second, on average (a token bucket of `rate` tokens): each costs the
    # daemon's own process CPU, so a flood, however many its clients, is bounded to this.
    rate: float = 20.0
    retry_after: int = 1  # seconds, in the 429's Retry-After
    # A refused request gets its 429 after this long (up to `held` of them waiting at once;
    # beyond, at once): a client that retries at once can then cost the daemon no more than a
    # request a second, where answering at once let a few hundred clients take a core.
    refusal_delay: float = 1.0
    held: int = 1024
    default_page: int = 100  # alerts when no `limit` is given
    max_page: int = 500  # `limit` is capped here


def is_loopback(host: str) -> bool:
    """Whether a status server bound to `host` is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: whatever it resolves to, assume the network


class StatusServer:
    """Serves the endpoints above from the running service's parts."""

    def __init__(
        self,
        address: str,
        *,
        store: Store,
        metrics: Metrics,
        checks: Checks,
        clock: Callable[[], datetime],
        token: str | None = None,
        limits: ApiLimits = ApiLimits(),
    ) -> None:
        self._host, self._port = parse_host_port(address)
        self._store = store
        self._api_store: Store | None = None
        self._metrics = metrics
        self._checks = checks
        self._clock = clock
        self._token = token.encode() if token else None
        self._limits = limits
        self._api_in_flight = 0
        self._api_held = 0
        self._api_tokens = limits.rate
        self._api_tokens_at = 0.0
        self._shared: dict[str, asyncio.Task[Any]] = {}
        self._runner: web.AppRunner | None = None
        self.port = self._port

    async def start(self) -> None:
        self._api_store = self._store.reader(self._limits.connections)
        app = web.Application(middlewares=[self._guard_api])
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics_page)
        app.router.add_get("/api/feeds", self._feeds)
        app.router.add_get("/api/alerts", self._alerts)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, logger=_RequestErrorLog(log)
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        addresses = self._runner.addresses
        if addresses:
            self.port = addresses[0][1]
        log.info("status server on http://%s:%d", self._host, self.port)
        if self._token is None and not is_loopback(self._host):
            log.warning(
                "status server on %s without MONITOR_STATUS_TOKEN: /api/* answers 403 "
                "(health, readiness and metrics stay open); set a token to use the API",
                self._host,
            )

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for task in self._shared.values():
            task.cancel()
        if self._api_store is not None and self._api_store is not self._store:
            await self._api_store.close()
        self._api_store = None

    # ---- open endpoints: cheap, and at most one store round trip at a time ----------------
    async def _healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, _: web.Request) -> web.Response:
        checks = await self._checks()
        checks["store"] = await self._shared_call("ping", self._store_answers)
        ready = all(checks.values())
        return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)

    async def _store_answers(self) -> bool:
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                await self._store.ping()
        except (StoreError, TimeoutError):
            return False
        return True

    async def _metrics_page(self, _: web.Request) -> web.Response:
        await self._shared_call("metrics", self._refresh_metrics)
        response = web.Response(body=self._metrics.exposition())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def _refresh_metrics(self) -> None:
        try:
            await self._metrics.refresh(self._store, now=self._clock())
        except StoreError as exc:  # the counters are still worth serving
            log.warning("metrics from the store unavailable: %s", exc)

    async def _shared_call(self, name: str, call: Callable[[], Awaitable[T]]) -> T:
        """`call()`, or the answer of the one already running: a flood of probes or scrapes
        costs one store round trip at a time."""
        task = self._shared.get(name)
        if task is None or task.done():
            task = self._shared[name] = asyncio.ensure_future(call())
        result: T = await asyncio.shield(task)
        return result

    # ---- the API: its token, its limits, its own connections -------------------------------
    @web.middleware
    async def _guard_api(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        refused = self._refusal(request)
        if refused is not None:
            return refused
        if self._api_in_flight >= self._limits.in_flight or not self._take_api_token():
            if self._api_held < self._limits.held:
                self._api_held += 1
                try:
                    await asyncio.sleep(self._limits.refusal_delay)  # pacing the client
                finally:
                    self._api_held -= 1
            return _error(
                429,
                f"more than {self._limits.in_flight} API requests at once; retry later",
                headers={"Retry-After": str(self._limits.retry_after)},
            )
        self._api_in_flight += 1
        try:
            return await handler(request)
        except StoreError as exc:
            log.warning("status API: %s", exc)
            return _error(503, "the store did not answer", headers={"Retry-After": "5"})
        finally:
            self._api_in_flight -= 1

    def _take_api_token(self) -> bool:
        now = asyncio.get_running_loop().time()
        rate = self._limits.rate
        self._api_tokens = min(rate, self._api_tokens + (now - self._api_tokens_at) * rate)
        self._api_tokens_at = now
        if self._api_tokens < 1:
            return False
        self._api_tokens -= 1
        return True

    def _refusal(self, request: web.Request) -> web.Response | None:
        if self._token is None:
            if is_loopback(self._host):
                return None
            return _error(403, "the API is off: set MONITOR_STATUS_TOKEN to use it")
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self._token):
            return None
        return _error(401, "a valid bearer token is needed", headers={"WWW-Authenticate": "Bearer"})

    @property
    def _api(self) -> Store:
        assert self._api_store is not None, "start() first"
        return self._api_store

    async def _feeds(self, _: web.Request) -> web.Response:
        summaries = await self._api.list_feeds()
        return web.json_response([feed_json(s) for s in summaries])

    async def _alerts(self, request: web.Request) -> web.Response:
        try:
            since = _since(request.query.get("since"), self._clock())
            limit = _limit(request.query.get("limit"), self._limits)
        except ValueError as exc:
            return _error(400, str(exc))
        rule_id = request.query.get("rule") or None
        found = await self._api.list_alerts(since=since, rule_id=rule_id, limit=limit)
        states = await self._api.delivery_statuses([alert.id for alert in found])
        return web.json_response([alert_json(a, states.get(a.id, [])) for a in found])


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def _since(value: str | None, now: datetime) -> datetime | None:
    """The start of the `since` window; None (every alert) for a window longer than time."""
    if not value:
        return None
    try:
        window: timedelta = parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"since: {exc}") from None
    try:
        return now - window
    except OverflowError:
        return None


def _limit(value: str | None, limits: ApiLimits) -> int:
    if value is None or value == "":
        return limits.default_page
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        raise ValueError(f'limit: "{value}" is not a whole number of 1 or more')
    return min(limits.max_page, int(value))


class _RequestErrorLog(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's server logger: a malformed request (bad HTTP) is one WARNING line, never a
    traceback (TLS or other non-HTTP bytes on a first request, which aiohttp reports at DEBUG,
    one DEBUG line); anything else is logged as aiohttp does."""

    def exception(self, msg: object, *args: object, **kwargs: Any) -> None:
        if not self._one_line(logging.WARNING, args, kwargs):
            kwargs.setdefault("exc_info", True)
            self.logger.error(msg, *args, **kwargs)

    def debug(self, msg: object, *args: object, **kwargs: Any) -> None:
        if not self._one_line(logging.DEBUG, args, kwargs):
            self.logger.debug(msg, *args, **kwargs)

    def _one_line(self, level: int, args: tuple[object, ...], kwargs: dict[str, Any]) -> bool:
        error = kwargs.get("exc_info")
        if not isinstance(error, HttpProcessingError):
            return False
        reason = " ".join(str(error.message).split())[:200]
        remote = args[0] if args else "?"
        self.logger.log(
            level,
            "malformed request to the status server from %s: %s %s",
            remote,
            error.code,
            reason,
        )
        return True
