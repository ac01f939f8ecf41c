"""The `monitor` command: run, once, check, feeds, test-rule, demo, and (from `cli_delivery` and
`cli_status`) alerts, deliveries, silence, notify-test and status. Exit 0 on success, 2 on bad
config.

Start-up is kept cheap: this module imports click and nothing heavy. Each command imports what
it needs when it runs, and the commands of the other modules are imported only when called, so
`monitor --version` and `monitor --help` cost about what Python's own start-up does.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from monitor import __version__
from monitor.cli.options import config_option, group_config_option

if TYPE_CHECKING:
    import logging
    from collections.abc import Sequence
    from datetime import datetime

    from monitor.cli.common import Loaded
    from monitor.config import FeedConfig, MonitorConfig, Settings
    from monitor.models import Article, Feed, FeedSummary


def _log() -> logging.Logger:
    import logging  # here: the logging package is not needed by --version and --help

    return logging.getLogger("monitor")


# Commands defined in other modules: name -> (module, attribute, first paragraph of its help).
# The module is imported when the command runs; `monitor --help` shows the text given here
# (tests/test_cli_startup.py checks it against the command's own).
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "alerts": (
        "monitor.cli.deliveries",
        "alerts",
        "Recent alerts, newest first, with the state of each delivery.",
    ),
    "deliveries": (
        "monitor.cli.deliveries",
        "deliveries",
        "The outbox: list deliveries, re-queue dead ones.",
    ),
    "notify-test": (
        "monitor.cli.deliveries",
        "notify_test",
        "Send a sample alert to NOTIFIER now and show the receiver's answer (exit 1 if refused).",
    ),
    "silence": (
        "monitor.cli.deliveries",
        "silence",
        "Silence a rule for a while: its alerts are stored, not sent.",
    ),
    "status": (
        "monitor.cli.status",
        "status",
        "Feeds by status, deliveries by state, alerts; with --cluster, each replica's id, host, "
        "last heartbeat and the leases it holds.",
    ),
}


class LazyGroup(click.Group):
    """A group that imports the module of a command in `LAZY_COMMANDS` only when it is called
    (or its own --help is asked for); the group's --help lists it from its summary."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in LAZY_COMMANDS:
            module, attribute, _ = LAZY_COMMANDS[cmd_name]
            command = getattr(importlib.import_module(module), attribute)
            assert isinstance(command, click.Command) and command.name == cmd_name
            self.add_command(command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name) or click.Command(name, help=LAZY_COMMANDS[name][2])
            if not command.hidden:
                rows.append((name, command))
        if rows:  # as click lays them out
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, c.get_short_help_str(limit)) for name, c in rows])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="monitor")
@group_config_option
def main(config_path: Path | None) -> None:
    """Feed monitor: polls news feeds, matches watch rules, delivers alerts.

    --config may come before the command or after it (after it wins)."""


def _describe(config: MonitorConfig) -> str:
    if config.embedded:
        return (
            f"no monitor.yaml found (--config, MONITOR_CONFIG, ./monitor.yaml): running on the "
            f"embedded default: {len(config.feeds)} world-news feeds, the example rules, "
            f"alerts on the console"
        )
    from monitor.cli.common import counted

    feeds, files = counted(len(config.feeds), "feed"), counted(len(config.rule_files), "rule file")
    return f"config {config.source}: {feeds}, {files}"


async def _log_new_articles(feed: Feed, articles: Sequence[Article]) -> None:
    _log().info("feed %s: %d new articles", feed.id, len(articles), extra={"feed_id": feed.id})


@main.command()
@config_option
def run(config_path: Path | None) -> None:
    """Run the daemon until SIGTERM or SIGINT (a second signal stops at once); SIGHUP or a
    change to the config files reloads the configuration."""
    from monitor.cli.common import load, run_async

    loaded = load(config_path)
    _log().info("monitor %s starting; %s", __version__, _describe(loaded.config))
    run_async(_serve(loaded))
    _log().info("monitor stopped")


async def _serve(loaded: Loaded) -> None:
    import asyncio
    import signal

    from monitor.service import Service

    stop, force = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            force.set()
            return
        _log().info("received %s: shutting down", signal.Signals(signum).name)
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
    """Poll every feed once, record new articles, deliver what is due, print a summary, and
    exit (1 if every feed failed)."""
    from monitor.cli.common import load, run_async
    from monitor.cli.once import poll_progress, summary_lines
    from monitor.service import Service

    loaded = load(config_path)
    _log().info("%s", _describe(loaded.config))
    if not sys.stderr.isatty():  # a pipe, a file, cron: plain lines only
        service = Service(loaded.settings, loaded.config, matcher=loaded.matcher)
        tally = run_async(service.once())
    else:
        from rich.console import Console

        with poll_progress(len(loaded.config.feeds), Console(stderr=True)) as advance:
            service = Service(
                loaded.settings, loaded.config, matcher=loaded.matcher, on_outcome=advance
            )
            tally = run_async(service.once())
    click.echo("\n".join(summary_lines(tally)))
    if tally.polled and len(tally.failures) == tally.polled:
        sys.exit(1)


@main.command()
@config_option
def check(config_path: Path | None) -> None:
    """Validate settings, monitor.yaml, rules and environment variables."""
    from monitor.cli.common import counted, load

    config = load(config_path, logs=False).config
    source = "embedded default" if config.embedded else str(config.source)
    for warning in config.warnings:
        click.echo(f"warning: {warning}")
    click.echo(
        f"{source}: ok: {counted(len(config.feeds), 'feed')}, "
        f"{counted(len(config.notifiers), 'notifier')}, {counted(len(config.rules.rules), 'rule')} "
        f"and {counted(len(config.rules.actors), 'actor')} "
        f"in {counted(len(config.rule_files), 'rule file')}"
    )


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def feeds(config_path: Path | None, as_json: bool) -> None:
    """Show each feed's health: last poll, status, errors, articles, next poll, last error."""
    from monitor.cli.common import configured_feeds, load_store_settings, run_async

    settings = load_store_settings()
    summaries = run_async(_feed_summaries(settings, configured_feeds(settings, config_path)))
    if as_json:
        import json

        from monitor.views import feed_json

        click.echo(json.dumps([feed_json(s) for s in summaries], indent=2))
    else:
        _print_feed_table(summaries)


async def _feed_summaries(
    settings: Settings, feeds: Sequence[FeedConfig] | None
) -> list[FeedSummary]:
    """The stored feeds, first synced to monitor.yaml's `feeds` unless it is broken (None)."""
    from monitor.cli.common import opened_store
    from monitor.pipeline import utc_now

    async with opened_store(settings) as store:
        if feeds is not None:
            await store.sync_feeds(feeds, now=utc_now())
        return await store.list_feeds()


def _print_feed_table(summaries: list[FeedSummary]) -> None:
    from rich.text import Text

    from monitor.cli.common import print_table, printable, relative_time, table
    from monitor.pipeline import utc_now
    from monitor.redact import redact_url

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
    from monitor.cli.common import relative_time

    return "due" if moment is not None and moment <= now else relative_time(moment, now)


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
    import asyncio
    import json

    from monitor.cli import testrule
    from monitor.cli.common import EXIT_CONFIG, load

    loaded = load(config_path, logs=False, store=False)
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
    for line in testrule.summary_lines(verdicts):
        click.echo(line)


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
    from monitor.cli.common import run_async
    from monitor.cli.demo import run_demo
    from monitor.logging import configure_logging

    configure_logging("INFO" if verbose else "WARNING")
    run_async(run_demo(sys.stdout, workdir=keep))


main.add_command(demo)
