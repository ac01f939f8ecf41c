"""HTTP fetching of feeds: one shared client, conditional GETs, limits, and when to poll next."""

from monitor.fetch.client import FetchLimits, Timeouts, create_client
from monitor.fetch.fetcher import Fetcher, map_fetch_errors
from monitor.fetch.policy import (
    adaptive_interval,
    backoff_delay,
    next_poll_at,
    parse_max_age,
    publishing_gap,
    retry_delay,
)
from monitor.models import parse_retry_after  # shared with the webhook notifier

__all__ = [
    "FetchLimits",
    "Fetcher",
    "Timeouts",
    "adaptive_interval",
    "backoff_delay",
    "create_client",
    "map_fetch_errors",
    "next_poll_at",
    "parse_max_age",
    "parse_retry_after",
    "publishing_gap",
    "retry_delay",
]
