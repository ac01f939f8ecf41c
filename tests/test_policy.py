"""The pure polling policy: jittered intervals, backoff, Retry-After and Cache-Control."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.fetch import (
    adaptive_interval,
    backoff_delay,
    next_poll_at,
    parse_max_age,
    parse_retry_after,
    publishing_gap,
    retry_delay,
)

NOW = datetime(2026, 11, 26, 15, 5, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


# ---- next_poll_at ---------------------------------------------------------------------------
@given(
    interval_s=st.integers(min_value=1, max_value=30 * 86400),
    jitter=st.floats(min_value=0.0, max_value=0.99),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_next_poll_stays_within_the_jitter_band(interval_s: int, jitter: float, seed: int) -> None:
    interval = timedelta(seconds=interval_s)
    due = next_poll_at(NOW, interval, rng=random.Random(seed), jitter=jitter)
    assert NOW + interval * (1 - jitter) <= due <= NOW + interval * (1 + jitter)
    assert due > NOW


def test_next_poll_is_reproducible_from_the_seed() -> None:
    first = next_poll_at(NOW, 10 * MINUTE, rng=random.Random(7))
    assert first == next_poll_at(NOW, 10 * MINUTE, rng=random.Random(7))


def test_next_poll_spreads_feeds_with_the_same_interval() -> None:
    rng = random.Random(1)
    dues = [next_poll_at(NOW, 10 * MINUTE, rng=rng) for _ in range(200)]
    assert len(set(dues)) == 200
    assert max(dues) - min(dues) > MINUTE  # most of the ±1 min band is used


def test_next_poll_without_jitter_is_exact() -> None:
    assert next_poll_at(NOW, MINUTE, rng=random.Random(0), jitter=0.0) == NOW + MINUTE


@pytest.mark.parametrize("jitter", [-0.1, 1.0, 2.0], ids=["negative", "one", "two"])
def test_next_poll_rejects_a_jitter_outside_zero_one(jitter: float) -> None:
    with pytest.raises(ValueError, match="jitter"):
        next_poll_at(NOW, MINUTE, rng=random.Random(0), jitter=jitter)


# ---- backoff_delay and retry_delay ----------------------------------------------------------
@pytest.mark.parametrize(
    ("failures", "low", "high"),
    [
        (1, timedelta(seconds=30), MINUTE),
        (2, MINUTE, 2 * MINUTE),
        (3, 2 * MINUTE, 4 * MINUTE),
        (5, 8 * MINUTE, 16 * MINUTE),
        (8, 64 * MINUTE, 128 * MINUTE),
        (11, 512 * MINUTE, 1024 * MINUTE),
        (12, DAY / 2, DAY),
        (40, DAY / 2, DAY),
    ],
    ids=lambda v: str(v) if isinstance(v, int) else None,
)
def test_backoff_doubles_with_equal_jitter_up_to_the_cap(
    failures: int, low: timedelta, high: timedelta
) -> None:
    rng = random.Random(failures)
    delays = [backoff_delay(failures, 10 * MINUTE, rng=rng) for _ in range(50)]
    assert all(low <= d <= high for d in delays)
    assert len(set(delays)) > 1  # jittered, so failing feeds do not retry in lockstep


@given(failures=st.integers(min_value=1, max_value=10**6), seed=st.integers(0, 2**32))
def test_backoff_never_exceeds_the_cap_nor_falls_below_the_floor(failures: int, seed: int) -> None:
    delay = backoff_delay(failures, 5 * MINUTE, rng=random.Random(seed))
    assert timedelta(seconds=5) <= delay <= DAY


@pytest.mark.parametrize("failures", [0, -1], ids=["zero", "negative"])
def test_no_failure_means_the_normal_interval(failures: int) -> None:
    assert backoff_delay(failures, 7 * MINUTE, rng=random.Random(0)) == 7 * MINUTE


def test_a_weekly_feed_is_not_polled_more_often_because_it_fails() -> None:
    week = timedelta(days=7)
    delay = backoff_delay(30, week, rng=random.Random(0))
    assert week / 2 <= delay <= week


def test_backoff_keeps_a_floor_with_a_tiny_base() -> None:
    delay = backoff_delay(1, MINUTE, rng=random.Random(0), base=timedelta(milliseconds=1))
    assert delay == timedelta(seconds=5)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        (None, None),
        (1.0, None),
        (3600.0, timedelta(hours=1)),
        (10 * 86400.0, DAY),
        (-5.0, None),
    ],
    ids=["none", "shorter-than-backoff", "longer-than-backoff", "over-24h", "negative"],
)
def test_retry_delay_honours_retry_after(retry_after: float | None, expected: timedelta) -> None:
    backoff = backoff_delay(2, MINUTE, rng=random.Random(3))
    delay = retry_delay(2, MINUTE, retry_after, rng=random.Random(3))
    assert delay == (expected or backoff)


# ---- parse_retry_after -----------------------------------------------------------------------
def _http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        ("99999999999999999999", 86400.0),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        (None, None),
        (_http_date(NOW + timedelta(seconds=120)), 120.0),
        (_http_date(NOW - timedelta(hours=1)), 0.0),
        (_http_date(NOW + timedelta(days=3)), 86400.0),
        ("Thursday, 26-Nov-26 15:07:00 GMT", 120.0),  # RFC 850, obsolete but allowed
        ("Thu Nov 26 15:07:00 2026", 120.0),  # asctime
        ("Thu, 26 Nov 2026 15:07:00 -0000", 120.0),  # parses naive; still GMT
        ("Thu, 32 Nov 2026 15:07:00 GMT", None),
    ],
    ids=[
        "seconds",
        "spaces",
        "zero",
        "huge",
        "negative",
        "fraction",
        "word",
        "empty",
        "absent",
        "date-ahead",
        "date-past",
        "date-far",
        "rfc850",
        "asctime",
        "minus-zero-zone",
        "bad-date",
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


# ---- parse_max_age --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("max-age=300", 300.0),
        ("public, max-age=60, must-revalidate", 60.0),
        ("MAX-AGE=60", 60.0),
        ('max-age="60"', 60.0),
        ("max-age=0", 0.0),
        ("s-maxage=60", None),
        ("max-age=abc", None),
        ("max-age=-1", None),
        ("max-age=", None),
        ("no-cache", None),
        ("", None),
        (None, None),
    ],
    ids=[
        "plain",
        "among-others",
        "upper-case",
        "quoted",
        "zero",
        "shared-only",
        "word",
        "negative",
        "empty-value",
        "no-cache",
        "empty",
        "absent",
    ],
)
def test_parse_max_age(header: str | None, expected: float | None) -> None:
    assert parse_max_age(header) == expected


# ---- adaptive polling -----------------------------------------------------------------------
HOUR = timedelta(hours=1)
WEEK = timedelta(days=7)


def ago(*hours: float) -> list[datetime]:
    return [NOW - timedelta(hours=h) for h in hours]


@pytest.mark.parametrize(
    ("published", "gap"),
    [
        ([], None),  # no dates: nothing to measure
        (ago(200, 300), WEEK),  # nothing from the last week
        (ago(1, 2, 3, 4), HOUR),  # 4 items since 4 h ago: one an hour
        (ago(24, 48, 72, 96, 120, 144), DAY),  # one a day
        # A feed keeping its last 20 items, all from the last 2 hours: busy, not slow.
        (ago(*(n / 10 for n in range(1, 21))), timedelta(minutes=6)),
        (ago(1, 2, 500), timedelta(hours=1)),  # the old item is outside the week
        ([NOW + timedelta(days=3), *ago(2)], timedelta(hours=2)),  # far future: left out
        ([NOW + timedelta(minutes=5)], timedelta(0)),  # a little clock skew counts
    ],
    ids=[
        "no-dates",
        "none-recent",
        "hourly",
        "daily",
        "last-20-busy",
        "old-item",
        "future",
        "skew",
    ],
)
def test_publishing_gap(published: list[datetime], gap: timedelta | None) -> None:
    assert publishing_gap(published, NOW) == gap


@pytest.mark.parametrize(
    ("gap", "hints", "bounds", "expected"),
    [
        (None, (), (10 * MINUTE, HOUR), 10 * MINUTE),  # nothing measured: the interval
        (DAY, (), (10 * MINUTE, HOUR), HOUR),  # a slow feed: polled less, up to the max
        (HOUR, (), (10 * MINUTE, HOUR), 30 * MINUTE),  # half the gap
        (MINUTE, (), (10 * MINUTE, HOUR), 10 * MINUTE),  # a busy feed: never below the min
        (MINUTE, (), (2 * MINUTE, HOUR), 2 * MINUTE),  # ... which its owner may lower
        (None, (1800.0, None), (10 * MINUTE, HOUR), 30 * MINUTE),  # max-age or ttl: not sooner
        (None, (None, 7200.0), (10 * MINUTE, HOUR), HOUR),  # ... but never past the max
        (20 * MINUTE, (0.0,), (10 * MINUTE, HOUR), 10 * MINUTE),  # max-age=0 asks nothing
    ],
)
def test_adaptive_interval(
    gap: timedelta | None,
    hints: tuple[float | None, ...],
    bounds: tuple[timedelta, timedelta],
    expected: timedelta,
) -> None:
    assert adaptive_interval(10 * MINUTE, bounds, gap=gap, hints=hints) == expected


@given(
    gap_s=st.one_of(st.none(), st.integers(min_value=0, max_value=30 * 86400)),
    hint=st.one_of(st.none(), st.floats(min_value=0, max_value=1e7)),
    low_s=st.integers(min_value=1, max_value=86400),
    extra_s=st.integers(min_value=0, max_value=86400),
)
def test_adaptive_interval_stays_within_the_bounds(
    gap_s: int | None, hint: float | None, low_s: int, extra_s: int
) -> None:
    low, high = timedelta(seconds=low_s), timedelta(seconds=low_s + extra_s)
    gap = None if gap_s is None else timedelta(seconds=gap_s)
    chosen = adaptive_interval(low, (low, high), gap=gap, hints=(hint,))
    assert low <= chosen <= high
