"""Tables on stdout (rich): the listing commands' output, one row per line off a terminal."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

__all__ = ["print_table", "table"]


def table(*columns: str) -> Table:
    grid = Table(box=None, header_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold")
    return grid


def print_table(grid: Table) -> None:
    # Off a terminal (a pipe, a file) nothing limits the width: keep one row per line.
    Console(width=None if sys.stdout.isatty() else 1000).print(grid)
