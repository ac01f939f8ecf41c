"""HTTP fetching of feeds: one shared client, conditional GETs, limits, and when to poll next."""

from monitor.fetch.client import FetchLimits, Timeouts, create_client
from monitor.fetch.fetcher import Fetcher, map_fetch_errors
from monitor.fetch.policy import (
    backoff_delay,
    next_poll_at,
    parse_max_age,
    parse_retry_after,
    retry_delay,
)

__all__ = [
    "FetchLimits",
    "Fetcher",
    "Timeouts",
    "backoff_delay",
    "create_client",
    "map_fetch_errors",
    "next_poll_at",
    "parse_max_age",
    "parse_retry_after",
    "retry_delay",
]
