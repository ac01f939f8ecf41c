"""`monitor once` on a terminal: a progress bar of the feeds polled, with the log lines printed
above it rather than through it."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.text import Text

from monitor.cli.once import STATUS_WORDS
from monitor.cli.text import printable
from monitor.models import PollOutcome

__all__ = ["ConsoleLogHandler", "logs_above", "poll_progress"]


class ConsoleLogHandler(logging.Handler):
    """Prints each record on a rich console: while a progress bar shows, rich prints it above
    the bar and draws the bar again, so a log line never runs into it."""

    def __init__(self, console: Console, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
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
            last = f"{outcome.feed_id}: {STATUS_WORDS[outcome.status]}"
            progress.update(task, advance=1, last=last)

        yield advance
