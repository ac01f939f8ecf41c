"""What `monitor once` shows: a progress bar on a terminal, with the log lines printed above it
rather than through it, and the run's summary in plain words."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from monitor.cli.common import counted, printable
from monitor.models import PollOutcome, PollStatus

if TYPE_CHECKING:
    from rich.console import Console

    from monitor.service import PollTally

__all__ = ["ConsoleLogHandler", "logs_above", "poll_progress", "summary_lines"]

_STATUS_WORDS = {
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


def summary_lines(tally: PollTally) -> list[str]:
    """What a run did, for people: polls by outcome, articles, alerts, the run's deliveries,
    why a first poll brings nothing new, and each failed feed with its error."""
    outcomes = ", ".join(
        f"{tally.outcomes[status]} {word}"
        for status, word in _STATUS_WORDS.items()
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


class ConsoleLogHandler(logging.Handler):
    """Prints each record on a rich console: while a progress bar shows, rich prints it above
    the bar and draws the bar again, so a log line never runs into it."""

    def __init__(self, console: Console, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        from rich.text import Text

        try:
            # Article text reaches the log: it must not drive the terminal.
            line = printable(self.format(record))
            # soft_wrap: a long line (a JSON record) stays one line, the terminal folds it.
            self.console.print(Text(line), soft_wrap=True, highlight=False)
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def logs_above(console: Console) -> Iterator[None]:
    """Route the root logger's records through `console` (in their format) for a while."""
    root = logging.getLogger()
    saved = root.handlers[:]
    handler = ConsoleLogHandler(console)
    if saved:
        handler.setFormatter(saved[0].formatter)
        handler.setLevel(saved[0].level)
    root.handlers[:] = [handler]
    try:
        yield
    finally:
        root.handlers[:] = saved


@contextlib.contextmanager
def poll_progress(total: int, console: Console) -> Iterator[Callable[[PollOutcome], None]]:
    """A transient bar of the feeds polled, the log printed above it; yields the callback
    that moves it on by one outcome."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with (
        Progress(
            TextColumn("polling"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[last]}", markup=False),
            console=console,
            transient=True,
        ) as progress,
        logs_above(console),
    ):
        task = progress.add_task("polling", total=total, last="")

        def advance(outcome: PollOutcome) -> None:
            last = f"{outcome.feed_id}: {_STATUS_WORDS[outcome.status]}"
            progress.update(task, advance=1, last=last)

        yield advance
