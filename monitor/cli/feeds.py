"""Show each feed's health: last poll, status, errors, articles, next poll, last error."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import click
from rich.text import Text

from monitor.cli.common import configured_feeds, load_store_settings, run_async
from monitor.cli.options import config_option
from monitor.cli.store import opened_store
from monitor.cli.tables import print_table, table
from monitor.cli.text import printable, relative_time
from monitor.config import FeedConfig, Settings
from monitor.models import FeedSummary, utc_now
from monitor.redact import redact_url
from monitor.views import feed_json

__all__ = ["feeds"]


@click.command(help=__doc__)
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def feeds(config_path: Path | None, as_json: bool) -> None:
    settings = load_store_settings()
    summaries = run_async(_feed_summaries(settings, configured_feeds(settings, config_path)))
    if as_json:
        click.echo(json.dumps([feed_json(s) for s in summaries], indent=2))
    else:
        _print_feed_table(summaries)


async def _feed_summaries(
    settings: Settings, feeds: Sequence[FeedConfig] | None
) -> list[FeedSummary]:
    """The stored feeds, first synced to monitor.yaml's `feeds` unless it is broken (None)."""
    async with opened_store(settings) as store:
        if feeds is not None:
            await store.sync_feeds(feeds, now=utc_now())
        return await store.list_feeds()


def _print_feed_table(summaries: list[FeedSummary]) -> None:
    now = utc_now()
    grid = table(
        "id", "url", "last poll", "status", "errors", "articles", "next poll", "last error"
    )
    # One line per feed: the URL and the error give way (cut with an ellipsis), the rest never
    # wraps. Off a terminal nothing limits the width (print_table).
    for column in grid.columns:
        column.no_wrap = column.header not in ("url", "last error")
        column.overflow = "ellipsis"
    for summary in summaries:
        feed = summary.feed
        error = " ".join(printable(feed.last_error or "-").split())
        grid.add_row(
            feed.id,
            redact_url(feed.url),
            relative_time(feed.last_poll_at, now),
            feed.status.value,
            str(feed.error_count),
            str(summary.articles),
            _next_poll(feed.next_poll_at, now),
            Text(error, no_wrap=True, overflow="ellipsis"),
        )
    print_table(grid)


def _next_poll(moment: datetime | None, now: datetime) -> str:
    return "due" if moment is not None and moment <= now else relative_time(moment, now)
