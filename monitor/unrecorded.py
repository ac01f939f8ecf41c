"""Polls the store could not record: counted, and logged at most once a minute.

When the database (or its disk) is full, or refuses every write, each poll fails the same way:
a line per poll would bury the log, so the first failure is logged at once and the following
ones are summed up in one line per `every` (a store that fails and recovers by turns too).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from monitor.errors import StoreError, StoreFullError
from monitor.models import Clock, utc_now

log = logging.getLogger(__name__)

REPORT_EVERY = 60.0  # seconds between two lines about the same outage


class UnrecordedPolls:
    """Shared by the poller and the dispatcher of one process."""

    def __init__(
        self,
        *,
        every: float = REPORT_EVERY,
        clock: Clock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._every = every
        self._clock = clock
        self._monotonic = monotonic
        self._since: datetime | None = None  # the outage's first failure
        self._feeds: set[str] = set()
        self._reported_at: float | None = None  # kept across outages: a flapping store too
        self._announced = False  # a line said that polls cannot be recorded

    @property
    def failing(self) -> bool:
        return self._since is not None

    def failed(self, error: StoreError, feed_id: str | None = None) -> None:
        """A write of the polling path failed (a poll's record, or a claim without `feed_id`)."""
        if self._since is None:
            self._since = self._clock()
        if feed_id is not None:
            self._feeds.add(feed_id)
        now = self._monotonic()
        if self._reported_at is not None and now - self._reported_at < self._every:
            return
        self._reported_at, self._announced = now, True
        headline = "database is full" if isinstance(error, StoreFullError) else "store error"
        log.error(
            "%s: polls cannot be recorded (%d feeds failed since %s): %s",
            headline,
            len(self._feeds),
            self._since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            error.reason or error,
            extra={"failed_feeds": len(self._feeds)},
        )

    def recorded(self) -> None:
        """A write went through: the outage, if there was one, is over."""
        if self._since is None:
            return
        if self._announced:
            log.info(
                "polls are recorded again (%d feeds failed since %s)",
                len(self._feeds),
                self._since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            )
        self._since, self._announced = None, False
        self._feeds.clear()
