"""The `monitor` command: run, once, check, feeds. Exit 0 on success, 2 on bad config."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import Coroutine, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.table import Table

from monitor import __version__, testrule
from monitor.config import (
    ConfigError,
    ConfigErrors,
    MonitorConfig,
    Settings,
    load_config,
    load_settings,
)
from monitor.config.settings import parse_duration
from monitor.errors import MonitorError
from monitor.logging import configure_logging
from monitor.match import Matcher
from monitor.models import Alert, Article, Feed, FeedSummary
from monitor.pipeline import utc_now
from monitor.service import PollTally, Service, compile_matcher
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


@dataclass(frozen=True)
class Loaded:
    settings: Settings
    config: MonitorConfig
    matcher: Matcher


def _load(config_path: Path | None, *, logs: bool = True) -> Loaded:
    """Settings, config and compiled rules, or every error with file:line and exit 2."""
    try:
        settings = load_settings()
        if logs:
            configure_logging(settings.log_level, settings.log_format)
        config = load_config(settings, config_path)
        return Loaded(settings, config, compile_matcher(config))
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


async def _log_new_articles(feed: Feed, articles: Sequence[Article]) -> None:
    log.info("feed %s: %d new articles", feed.id, len(articles), extra={"feed_id": feed.id})


@main.command()
@config_option
def run(config_path: Path | None) -> None:
    """Run the daemon until SIGTERM or SIGINT (a second signal stops at once)."""
    loaded = _load(config_path)
    log.info("monitor %s starting; %s", __version__, _describe(loaded.config))
    _run_async(_serve(loaded))
    log.info("monitor stopped")


async def _serve(loaded: Loaded) -> None:
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
    service = Service(
        loaded.settings,
        loaded.config,
        matcher=loaded.matcher,
        on_new_articles=_log_new_articles,
    )
    await service.run(stop, force)


@main.command()
@config_option
def once(config_path: Path | None) -> None:
    """Poll every feed once, record new articles, print a summary, and exit."""
    loaded = _load(config_path)
    log.info("%s", _describe(loaded.config))
    service = Service(loaded.settings, loaded.config, matcher=loaded.matcher)
    tally = _run_async(service.once())
    _print_tally(tally)


def _print_tally(tally: PollTally) -> None:
    counts = ", ".join(f"{n} {status.value}" for status, n in sorted(tally.outcomes.items()))
    click.echo(f"polled {tally.polled} feeds ({counts or 'none'})")
    click.echo(f"recorded {tally.recorded} articles, {tally.new} new, {tally.alerts} alerts")
    for failure in tally.failures:
        click.echo(f"failed: {failure.error}")


@main.command()
@config_option
def check(config_path: Path | None) -> None:
    """Validate settings, monitor.yaml, rules and environment variables."""
    config = _load(config_path, logs=False).config
    source = "embedded default" if config.embedded else str(config.source)
    click.echo(
        f"{source}: ok: {len(config.feeds)} feeds, {len(config.notifiers)} notifiers, "
        f"{len(config.rules.rules)} rules and {len(config.rules.actors)} actors "
        f"in {len(config.rule_files)} rule files"
    )


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def feeds(config_path: Path | None, as_json: bool) -> None:
    """Show each feed's health: last poll, status, errors, articles, next poll."""
    loaded = _load(config_path)
    summaries = _run_async(_feed_summaries(loaded.settings, loaded.config))
    if as_json:
        click.echo(json.dumps([_feed_json(s) for s in summaries], indent=2))
    else:
        _print_feed_table(summaries)


async def _feed_summaries(settings: Settings, config: MonitorConfig) -> list[FeedSummary]:
    store = await open_store(settings.database_url)
    try:
        await store.sync_feeds(config.feeds, now=utc_now())
        return await store.list_feeds()
    finally:
        await store.close()


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
    for summary in summaries:
        feed = summary.feed
        table.add_row(
            feed.id,
            feed.url,
            _iso(feed.last_poll_at) or "-",
            feed.status.value,
            str(feed.error_count),
            str(summary.articles),
            _iso(feed.next_poll_at) or "-",
        )
    # Off a terminal (a pipe, a file) nothing limits the width: keep one feed per line.
    width = None if sys.stdout.isatty() else 1000
    Console(width=width).print(table)


@main.command()
@config_option
@click.option("--since", default=None, help="Only alerts detected within this long: 1h, 1d, 7d.")
@click.option("--rule", "rule_id", default=None, help="Only this rule's alerts.")
@click.option("--limit", default=100, show_default=True, help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def alerts(
    config_path: Path | None, since: str | None, rule_id: str | None, limit: int, as_json: bool
) -> None:
    """Recent alerts, newest first."""
    loaded = _load(config_path)
    try:
        window = parse_duration(since) if since else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    found = _run_async(_recent_alerts(loaded.settings, window, rule_id, limit))
    if as_json:
        click.echo(
            json.dumps([_alert_json(alert) for alert in found], indent=2, ensure_ascii=False)
        )
        return
    table = Table(box=None, header_style="bold")
    for column in ("detected", "rule", "score", "title", "url"):
        table.add_column(column, overflow="fold")
    for alert in found:
        table.add_row(
            _iso(alert.detected_at) or "-",
            alert.rule_id,
            f"{alert.score:g}",
            alert.title,
            alert.url or "",
        )
    Console(width=None if sys.stdout.isatty() else 1000).print(table)


async def _recent_alerts(
    settings: Settings, window: timedelta | None, rule_id: str | None, limit: int
) -> list[Alert]:
    store = await open_store(settings.database_url)
    try:
        since = utc_now() - window if window else None
        return await store.list_alerts(since=since, rule_id=rule_id, limit=limit)
    finally:
        await store.close()


def _alert_json(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "rule": alert.rule_id,
        "article_key": alert.article_key,
        "url": alert.url,
        "title": alert.title,
        "feed": alert.feed_id,
        "detected_at": _iso(alert.detected_at),
        "score": alert.score,
        "matches": {
            "keywords": [asdict(hit) for hit in alert.match.keywords],
            "actors": [
                {"id": hit.id, "name": hit.name, "mentions": list(hit.mentions)}
                for hit in alert.match.actors
            ],
        },
        "deliveries": [],  # the delivery stage fills these in
    }


@main.command("test-rule")
@config_option
@click.argument("rule", required=False)
@click.option(
    "--file", "file", type=click.Path(path_type=Path), help="A saved feed or a text file."
)
@click.option("--url", help="A live feed URL.")
@click.option("--text", help="An article's text: the first line is its title.")
@click.option("--feed", "feed_id", help="Test as if the article came from this configured feed.")
@click.option("--why-not", "why_not", metavar="RULE", help="Explain each condition of RULE.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def test_rule(
    *,
    config_path: Path | None,
    rule: str | None,
    file: Path | None,
    url: str | None,
    text: str | None,
    feed_id: str | None,
    why_not: str | None,
    as_json: bool,
) -> None:
    """Show which rules match an article, with terms, actors, snippets and score.

    RULE limits the report to one rule. Exactly one of --file, --url and --text is needed.
    """
    if sum(source is not None for source in (file, url, text)) != 1:
        raise click.UsageError("give exactly one of --file, --url and --text")
    loaded = _load(config_path, logs=False)
    try:
        feed = testrule.feed_context(loaded.config, feed_id)
        if file is not None:
            samples = testrule.samples_from_file(file, feed)
        elif url is not None:
            samples = asyncio.run(testrule.samples_from_url(url, loaded.settings, feed))
        else:
            samples = testrule.samples_from_text(text or "", feed)
        verdicts = testrule.judge(loaded.matcher, samples, rule_id=rule, why_not=why_not)
    except testrule.InputError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    if as_json:
        payload = [testrule.verdict_json(v) for v in verdicts]
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    for verdict in verdicts:
        click.echo("\n".join(testrule.verdict_lines(verdict)))
