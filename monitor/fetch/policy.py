"""When to poll a feed next: jittered intervals, backoff after failures, and the HTTP hints.

Pure functions: the current time and the random source are passed in, nothing here does I/O,
so the scheduler's decisions can be tested exactly.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from monitor.models import MAX_RETRY_AFTER

BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=24)
_BACKOFF_FLOOR = timedelta(seconds=5)  # even with a tiny `base`, never retry in a busy loop

_MAX_AGE = re.compile(r'^max-age\s*=\s*"?([0-9]+)"?$', re.IGNORECASE)


def next_poll_at(
    now: datetime, interval: timedelta, *, rng: random.Random, jitter: float = 0.1
) -> datetime:
    """`now + interval`, moved by up to `jitter * interval` either way.

    The jitter spreads feeds with the same interval so that they do not all come due in the
    same second after a restart or a bulk import.
    """
    if not 0.0 <= jitter < 1.0:
        raise ValueError(f"jitter must be in [0, 1), got {jitter}")
    spread = interval * rng.uniform(-jitter, jitter)
    return now + interval + spread


PUBLISHING_WINDOW = timedelta(days=7)
_CLOCK_SKEW = timedelta(hours=1)  # an item dated this far ahead still counts as published


def publishing_gap(published: Iterable[datetime], now: datetime) -> timedelta | None:
    """The mean time between a feed's items over the last week, from the dates of the items
    its document lists (Miniflux measures the same on its stored entries).

    None when no item has a date: nothing to measure. A week when no item is from the last
    week. When the document lists recent items only (a feed that keeps its last 20), the
    span runs from the oldest of them to now rather than over a whole week, so that a busy
    feed is not taken for a slow one. Items dated in the future are left out.
    """
    dates = list(published)
    if not dates:
        return None
    since = now - PUBLISHING_WINDOW
    recent = [d for d in dates if since < d <= now + _CLOCK_SKEW]
    if not recent:
        return PUBLISHING_WINDOW
    span = max(now - min(recent), timedelta(0))
    return span / len(recent)


def adaptive_interval(
    interval: timedelta,
    bounds: tuple[timedelta, timedelta],
    *,
    gap: timedelta | None = None,
    hints: Iterable[float | None] = (),
) -> timedelta:
    """The interval to poll a feed at: half its publishing gap (so that on average a poll sees
    at most one new item), else `interval`; never sooner than the server's hints (RSS `ttl`,
    `Cache-Control: max-age`, in seconds); always within `bounds` (min, max), which keep a
    feed from being polled more often than its owner allows or less often than they need."""
    chosen = interval if gap is None else gap / 2
    asked = max((hint for hint in hints if hint), default=0.0)
    chosen = max(chosen, timedelta(seconds=asked))
    low, high = bounds
    return min(max(chosen, low), high)


def backoff_delay(
    error_count: int,
    interval: timedelta,
    *,
    rng: random.Random,
    base: timedelta = BACKOFF_BASE,
    cap: timedelta = BACKOFF_CAP,
) -> timedelta:
    """How long to wait after the `error_count`-th failure in a row.

    Exponential, `base * 2**(error_count - 1)`, with "equal jitter" (a uniform draw from the
    upper half, so the delay still grows and failing feeds do not retry in lockstep), capped
    at `max(cap, interval)` and never below a few seconds. With the defaults (1 min, 24 h):

        failures  1       2      3      4      5       6        7        8       10     12+
        delay     30-60s  1-2m   2-4m   4-8m   8-16m   16-32m   32-64m   1-2h    4-9h   12-24h

    The first retries may come sooner than the feed's own interval: a daily feed that hit a
    blip is read again within minutes instead of a day late; its extra polls while it stays
    down sum to about one interval's worth (a geometric series). The cap is stretched to
    the interval so that a weekly feed is never polled more often because it fails.
    `error_count < 1` means no failure: the normal interval.
    """
    if error_count < 1:
        return interval
    ceiling = max(cap, interval).total_seconds()
    exponent = min(error_count - 1, 64)  # 2**64 minutes is far past any cap; avoids overflow
    exponential = min(ceiling, base.total_seconds() * 2.0**exponent)
    delay = timedelta(seconds=exponential * rng.uniform(0.5, 1.0))
    return max(delay, _BACKOFF_FLOOR)


def retry_delay(
    error_count: int,
    interval: timedelta,
    retry_after: float | None,
    *,
    rng: random.Random,
    base: timedelta = BACKOFF_BASE,
    cap: timedelta = BACKOFF_CAP,
) -> timedelta:
    """The delay before the next try of a failed feed: the backoff, but never sooner than the
    `Retry-After` the server asked for (itself at most 24 h, see `parse_retry_after`)."""
    delay = backoff_delay(error_count, interval, rng=rng, base=base, cap=cap)
    if retry_after is None:
        return delay
    asked = timedelta(seconds=min(max(retry_after, 0.0), MAX_RETRY_AFTER))
    return max(delay, asked)


def parse_max_age(cache_control: str | None) -> float | None:
    """The `max-age` of a `Cache-Control` header in seconds (RFC 9111 §5.2.2.1), else None.

    Only `max-age` is read: it is the origin's own hint of how long the feed stays fresh.
    `s-maxage` is for shared caches, and a malformed value is treated as absent.
    """
    if not cache_control:
        return None
    for directive in cache_control.split(","):
        match = _MAX_AGE.match(directive.strip())
        if match:
            return float(match.group(1))
    return None
