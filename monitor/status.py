"""The status server on MONITOR_STATUS_ADDR: health, readiness, Prometheus metrics, and the feeds
and alerts as JSON.

    /healthz      200 "ok" while the process and its event loop answer
    /readyz       200 when the config is loaded, the store answers and the scheduler runs; else 503
    /metrics      Prometheus text format
    /api/feeds    as `monitor feeds --json`
    /api/alerts   as `monitor alerts --json`; ?since=1d&rule=R&limit=N
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from monitor.config.settings import parse_duration, parse_host_port
from monitor.errors import StoreError
from monitor.metrics import Metrics
from monitor.store import Store
from monitor.views import alert_json, feed_json

__all__ = ["StatusServer"]

log = logging.getLogger(__name__)

READY_TIMEOUT = 2.0  # seconds for the store's answer to a readiness check
MAX_ALERTS = 1000

Checks = Callable[[], Awaitable[dict[str, bool]]]


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
    ) -> None:
        self._host, self._port = parse_host_port(address)
        self._store = store
        self._metrics = metrics
        self._checks = checks
        self._clock = clock
        self._runner: web.AppRunner | None = None
        self.port = self._port

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics_page)
        app.router.add_get("/api/feeds", self._feeds)
        app.router.add_get("/api/alerts", self._alerts)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        addresses = self._runner.addresses
        if addresses:
            self.port = addresses[0][1]
        log.info("status server on http://%s:%d", self._host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, _: web.Request) -> web.Response:
        checks = await self._checks()
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                await self._store.ping()
            checks["store"] = True
        except (StoreError, TimeoutError):
            checks["store"] = False
        ready = all(checks.values())
        return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)

    async def _metrics_page(self, _: web.Request) -> web.Response:
        try:
            await self._metrics.refresh(self._store, now=self._clock())
        except StoreError as exc:  # the counters are still worth serving
            log.warning("metrics from the store unavailable: %s", exc)
        response = web.Response(body=self._metrics.exposition())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def _feeds(self, _: web.Request) -> web.Response:
        summaries = await self._store.list_feeds()
        return web.json_response([feed_json(s) for s in summaries])

    async def _alerts(self, request: web.Request) -> web.Response:
        try:
            since = _since(request.query.get("since"), self._clock())
            limit = min(MAX_ALERTS, int(request.query.get("limit", "100")))
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        rule_id = request.query.get("rule") or None
        found = await self._store.list_alerts(since=since, rule_id=rule_id, limit=limit)
        states = await self._store.delivery_statuses([alert.id for alert in found])
        return web.json_response([alert_json(a, states.get(a.id, [])) for a in found])


def _since(value: str | None, now: datetime) -> datetime | None:
    if not value:
        return None
    window: timedelta = parse_duration(value)
    return now - window
