"""Poll every feed once, record new articles, deliver what is due, print a summary, and
exit (1 if every feed failed)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from monitor.cli.common import describe, load, run_async
from monitor.cli.options import config_option
from monitor.cli.text import counted, printable
from monitor.models import PollStatus
from monitor.service import PollTally, Service

__all__ = ["STATUS_WORDS", "once", "summary_lines"]

STATUS_WORDS = {
    PollStatus.NEW_ITEMS: "ok",
    PollStatus.NOT_MODIFIED: "not modified",
    PollStatus.UNCHANGED: "unchanged",
    PollStatus.FAILED: "failed",
}
_DELIVERY_WORDS = {  # in this order
    "sent": "sent",
    "pending": "to retry later",
    "held": "held (a digest, or over max_per_hour)",
    "suppressed": "suppressed (silenced, or a repeat within realert)",
    "dead": "dead (monitor deliveries list --state dead)",
}


@click.command(help=__doc__)
@config_option
def once(config_path: Path | None) -> None:
    loaded = load(config_path)
    logging.getLogger("monitor").info("%s", describe(loaded.config))
    if not sys.stderr.isatty():  # a pipe, a file, cron: plain lines only
        service = Service(loaded.settings, loaded.config, matcher=loaded.matcher)
        tally = run_async(service.once())
    else:
        # Here: rich costs a noticeable part of the start, and only a terminal shows the bar.
        from rich.console import Console

        from monitor.cli.progress import poll_progress

        with poll_progress(len(loaded.config.feeds), Console(stderr=True)) as advance:
            service = Service(
                loaded.settings, loaded.config, matcher=loaded.matcher, on_outcome=advance
            )
            tally = run_async(service.once())
    click.echo("\n".join(summary_lines(tally)))
    if tally.polled and len(tally.failures) == tally.polled:
        sys.exit(1)


def summary_lines(tally: PollTally) -> list[str]:
    """What a run did, for people: polls by outcome, articles, alerts, the run's deliveries,
    why a first poll brings nothing new, and each failed feed with its error."""
    outcomes = ", ".join(
        f"{tally.outcomes[status]} {word}"
        for status, word in STATUS_WORDS.items()
        if tally.outcomes[status]
    )
    lines = [
        f"polled {counted(tally.polled, 'feed')} ({outcomes or 'none'})",
        f"recorded {counted(tally.recorded, 'article')}, {tally.new} new, "
        f"{counted(tally.alerts, 'alert')}",
    ]
    if tally.first_polls:
        lines.append(_first_poll_line(tally))
    if tally.deliveries:
        states = [
            f"{tally.deliveries[state]} {word}"
            for state, word in _DELIVERY_WORDS.items()
            if tally.deliveries.get(state)
        ]
        lines.append(f"deliveries: {', '.join(states)}")
    lines += [f"failed: {printable(failure.error or '')}" for failure in tally.failures]
    return lines


def _first_poll_line(tally: PollTally) -> str:
    start = (
        f"first poll of {counted(tally.first_polls, 'feed')}: "
        f"{'its' if tally.first_polls == 1 else 'their'} "
        f"{counted(tally.first_recorded, 'existing article')} recorded"
    )
    if tally.backfilled:
        return f"{start}; the newest {tally.backfilled} (backfill) matched as new"
    return f"{start}, not alerted (`backfill: N` on a feed alerts on its newest N)"
