"""The `monitor` command: run, once, check, feeds. Exit 0 on success, 2 on bad config."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.table import Table

from monitor import __version__
from monitor.config import (
    ConfigError,
    ConfigErrors,
    MonitorConfig,
    Settings,
    load_config,
    load_settings,
)
from monitor.errors import MonitorError
from monitor.logging import configure_logging
from monitor.models import Article, Feed, FeedSummary
from monitor.service import PollTally, Service
from monitor.store import open_store

log = logging.getLogger("monitor")
T = TypeVar("T")
EXIT_CONFIG = 2

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="monitor.yaml to use (default: $MONITOR_CONFIG, else ./monitor.yaml, else built-in).",
)


def _fail_config(error: ConfigError) -> NoReturn:
    errors = error.errors if isinstance(error, ConfigErrors) else (error,)
    for item in errors:
        click.echo(str(item), err=True)
    click.echo(
        f"{len(errors)} error{'s' if len(errors) != 1 else ''} in the configuration", err=True
    )
    sys.exit(EXIT_CONFIG)


def _load(config_path: Path | None) -> tuple[Settings, MonitorConfig]:
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format)
        return settings, load_config(settings, config_path)
    except ConfigError as exc:
        _fail_config(exc)


def _run_async(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except ConfigError as exc:
        _fail_config(exc)
    except MonitorError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="monitor")
def main() -> None:
    """Feed monitor: polls news feeds, matches watch rules, delivers alerts."""


def _describe(config: MonitorConfig) -> str:
    if config.embedded:
        return (
            f"no monitor.yaml found (--config, MONITOR_CONFIG, ./monitor.yaml): running on the "
            f"embedded default: {len(config.feeds)} world-news feeds, the example rules, "
            f"alerts on the console"
        )
    return f"config {config.source}: {len(config.feeds)} feeds, {len(config.rule_files)} rule files"


async def _log_new_articles(feed: Feed, articles: Any) -> None:
    items: list[Article] = list(articles)
    log.info("feed %s: %d new articles", feed.id, len(items), extra={"feed_id": feed.id})


@main.command()
@config_option
def run(config_path: Path | None) -> None:
    """Run the daemon until SIGTERM or SIGINT (a second signal stops at once)."""
    settings, config = _load(config_path)
    log.info("monitor %s starting; %s", __version__, _describe(config))
    _run_async(_serve(settings, config))
    log.info("monitor stopped")


async def _serve(settings: Settings, config: MonitorConfig) -> None:
    stop, force = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            force.set()
            return
        log.info("received %s: shutting down", signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    service = Service(settings, config, on_new_articles=_log_new_articles)
    await service.run(stop, force)


@main.command()
@config_option
def once(config_path: Path | None) -> None:
    """Poll every feed once, record new articles, print a summary, and exit."""
    settings, config = _load(config_path)
    log.info("%s", _describe(config))
    tally = _run_async(Service(settings, config).once())
    _print_tally(tally)


def _print_tally(tally: PollTally) -> None:
    counts = ", ".join(f"{n} {status.value}" for status, n in sorted(tally.outcomes.items()))
    click.echo(f"polled {tally.polled} feeds ({counts or 'none'})")
    click.echo(f"recorded {tally.recorded} articles, {tally.new} new")
    for failure in tally.failures:
        click.echo(f"failed: {failure.error}")


@main.command()
@config_option
def check(config_path: Path | None) -> None:
    """Validate settings, monitor.yaml, rules and environment variables."""
    try:
        settings = load_settings()
        config = load_config(settings, config_path)
    except ConfigError as exc:
        _fail_config(exc)
    source = "embedded default" if config.embedded else str(config.source)
    click.echo(
        f"{source}: ok: {len(config.feeds)} feeds, {len(config.notifiers)} notifiers, "
        f"{len(config.rule_files)} rule files"
    )


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def feeds(config_path: Path | None, as_json: bool) -> None:
    """Show each feed's health: last poll, status, errors, articles, next poll."""
    settings, config = _load(config_path)
    summaries = _run_async(_feed_summaries(settings, config))
    if as_json:
        click.echo(json.dumps([_feed_json(s) for s in summaries], indent=2))
    else:
        _print_feed_table(summaries)


async def _feed_summaries(settings: Settings, config: MonitorConfig) -> list[FeedSummary]:
    store = await open_store(settings.database_url)
    try:
        await store.sync_feeds(config.feeds, now=_now())
        return await store.list_feeds()
    finally:
        await store.close()


def _now() -> datetime:
    from monitor.pipeline import utc_now

    return utc_now()


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _feed_json(summary: FeedSummary) -> dict[str, Any]:
    feed = summary.feed
    return {
        "id": feed.id,
        "url": feed.url,
        "status": feed.status.value,
        "articles": summary.articles,
        "errors": feed.error_count,
        "last_error": feed.last_error,
        "last_poll": _iso(feed.last_poll_at),
        "next_poll": _iso(feed.next_poll_at),
    }


def _print_feed_table(summaries: list[FeedSummary]) -> None:
    table = Table(box=None, header_style="bold")
    for column in ("id", "url", "last poll", "status", "errors", "articles", "next poll"):
        table.add_column(column, overflow="fold")
    show: Callable[[datetime | None], str] = lambda m: _iso(m) or "-"  # noqa: E731
    for summary in summaries:
        feed = summary.feed
        table.add_row(
            feed.id,
            feed.url,
            show(feed.last_poll_at),
            feed.status.value,
            str(feed.error_count),
            str(summary.articles),
            show(feed.next_poll_at),
        )
    # Off a terminal (a pipe, a file) nothing limits the width: keep one feed per line.
    width = None if sys.stdout.isatty() else 1000
    Console(width=width).print(table)
