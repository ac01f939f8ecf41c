"""Run the daemon until SIGTERM or SIGINT (a second signal stops at once); SIGHUP or a
change to the config files reloads the configuration."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from pathlib import Path

import click

from monitor import __version__
from monitor.cli.common import Loaded, describe, load, run_async
from monitor.cli.options import config_option
from monitor.models import Article, Feed
from monitor.service import Service

__all__ = ["run"]

log = logging.getLogger("monitor")


@click.command(help=__doc__)
@config_option
def run(config_path: Path | None) -> None:
    loaded = load(config_path)
    log.info("monitor %s starting; %s", __version__, describe(loaded.config))
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


async def _log_new_articles(feed: Feed, articles: Sequence[Article]) -> None:
    log.info("feed %s: %d new articles", feed.id, len(articles), extra={"feed_id": feed.id})
