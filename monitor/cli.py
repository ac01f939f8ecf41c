"""The `monitor` command: run, once, check, feeds, test-rule, and (from `cli_delivery`) alerts,
deliveries, silence and notify-test. Exit 0 on success, 2 on bad config."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import click
from rich.console import Console

from monitor import __version__, cli_delivery, cli_status, testrule
from monitor.cli_common import (
    EXIT_CONFIG,
    Loaded,
    config_option,
    load,
    opened_store,
    print_table,
    run_async,
    table,
)
from monitor.config import MonitorConfig, Settings
from monitor.logging import configure_logging
from monitor.models import Article, Feed, FeedSummary, PollOutcome
from monitor.pipeline import utc_now
from monitor.service import PollTally, Service
from monitor.views import feed_json, iso

log = logging.getLogger("monitor")


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
    """Run the daemon until SIGTERM or SIGINT (a second signal stops at once); SIGHUP or a
    change to the config files reloads the configuration."""
    loaded = load(config_path)
    log.info("monitor %s starting; %s", __version__, _describe(loaded.config))
    run_async(_serve(loaded))
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
    reload = asyncio.Event()
    loop.add_signal_handler(signal.SIGHUP, reload.set)
    service = Service(
        loaded.settings,
        loaded.config,
        matcher=loaded.matcher,
        on_new_articles=_log_new_articles,
    )
    await service.run(stop, force, reload)


@main.command()
@config_option
def once(config_path: Path | None) -> None:
    """Poll every feed once, record new articles, print a summary, and exit."""
    loaded = load(config_path)
    log.info("%s", _describe(loaded.config))
    if not sys.stderr.isatty():  # a pipe, a file, cron: plain lines only
        service = Service(loaded.settings, loaded.config, matcher=loaded.matcher)
        _print_tally(run_async(service.once()))
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[last]}"),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("polling", total=len(loaded.config.feeds), last="")

        def advance(outcome: PollOutcome) -> None:
            progress.update(task, advance=1, last=f"{outcome.feed_id}: {outcome.status.value}")

        service = Service(
            loaded.settings, loaded.config, matcher=loaded.matcher, on_outcome=advance
        )
        tally = run_async(service.once())
    _print_tally(tally)


def _print_tally(tally: PollTally) -> None:
    counts = ", ".join(f"{n} {status.value}" for status, n in sorted(tally.outcomes.items()))
    click.echo(f"polled {tally.polled} feeds ({counts or 'none'})")
    click.echo(f"recorded {tally.recorded} articles, {tally.new} new, {tally.alerts} alerts")
    if tally.deliveries:
        states = ", ".join(f"{n} {state}" for state, n in sorted(tally.deliveries.items()))
        click.echo(f"deliveries: {states}")
    for failure in tally.failures:
        click.echo(f"failed: {failure.error}")


@main.command()
@config_option
def check(config_path: Path | None) -> None:
    """Validate settings, monitor.yaml, rules and environment variables."""
    config = load(config_path, logs=False).config
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
    loaded = load(config_path)
    summaries = run_async(_feed_summaries(loaded.settings, loaded.config))
    if as_json:
        click.echo(json.dumps([feed_json(s) for s in summaries], indent=2))
    else:
        _print_feed_table(summaries)


async def _feed_summaries(settings: Settings, config: MonitorConfig) -> list[FeedSummary]:
    async with opened_store(settings) as store:
        await store.sync_feeds(config.feeds, now=utc_now())
        return await store.list_feeds()


def _print_feed_table(summaries: list[FeedSummary]) -> None:
    grid = table("id", "url", "last poll", "status", "errors", "articles", "next poll")
    for summary in summaries:
        feed = summary.feed
        grid.add_row(
            feed.id,
            feed.url,
            iso(feed.last_poll_at) or "-",
            feed.status.value,
            str(feed.error_count),
            str(summary.articles),
            iso(feed.next_poll_at) or "-",
        )
    print_table(grid)


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
    loaded = load(config_path, logs=False)
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


@click.command("demo")
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Work in DIR (new or empty) and keep its monitor.yaml, rules and database.",
)
@click.option("--verbose", is_flag=True, help="Also log what the service does, on stderr.")
def demo(keep: Path | None, verbose: bool) -> None:
    """A short tour with sample feeds on this machine: no network, no setup.

    It polls three sample feeds twice, served on 127.0.0.1: the first poll records their items
    without alerting; then a breaking item matches the example rule caucasus-peace, and the
    alert goes to the console and to a local webhook catcher.
    """
    from monitor.demo import run_demo  # its local servers need aiohttp.web: not at start-up

    configure_logging("INFO" if verbose else "WARNING")
    run_async(run_demo(sys.stdout, workdir=keep))


for command in (*cli_delivery.COMMANDS, cli_status.status, demo):
    main.add_command(command)
