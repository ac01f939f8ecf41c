"""What every `monitor` command shares: the --config option, loading the configuration with
file:line errors (exit 2), running a coroutine, opening the store, printing times and tables."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from monitor.config import (
    ConfigError,
    ConfigErrors,
    FeedConfig,
    MonitorConfig,
    Settings,
    load_config,
    load_settings,
)
from monitor.config.settings import database_driver_problem
from monitor.errors import MonitorError
from monitor.logging import configure_logging
from monitor.match import Matcher, compile_rules
from monitor.notify import check_notifier_options

if TYPE_CHECKING:
    from rich.table import Table

    from monitor.store import Store

# The service, the store and rich are imported where they are used: `check` needs none of
# them, and each costs a noticeable part of a command's start.

T = TypeVar("T")
EXIT_CONFIG = 2


def fail_config(error: ConfigError) -> NoReturn:
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


def load(config_path: Path | None, *, logs: bool = True, store: bool = True) -> Loaded:
    """Settings, config and compiled rules, or every error with file:line and exit 2.
    `store`: the command opens the store (or, for `check`, validates it), so its driver must
    be installed: said with the config's errors, not as a ModuleNotFoundError later."""
    try:
        settings = load_settings()
        if logs:
            configure_logging(settings.log_level, settings.log_format)
        driver = database_driver_problem(settings.database_url) if store else None
        try:
            config = load_config(settings, config_path)
            check_notifier_options(config.notifier_checks)
        except ConfigErrors as exc:
            raise ConfigErrors([*([driver] if driver else []), *exc.errors]) from None
        if driver is not None:
            raise ConfigErrors([driver])
        if logs:
            for warning in config.warnings:
                logging.getLogger("monitor").warning("%s", warning)
        return Loaded(settings, config, compile_rules(config.rules))
    except ConfigError as exc:
        fail_config(exc)


def load_store_settings(*, logs: bool = True) -> Settings:
    """The settings alone, for the commands that only read or tidy the store (alerts,
    deliveries, status, ...): they work while a rule file or monitor.yaml is broken."""
    try:
        settings = load_settings()
        if logs:
            configure_logging(settings.log_level, settings.log_format)
        if (driver := database_driver_problem(settings.database_url)) is not None:
            raise ConfigErrors([driver])
        return settings
    except ConfigError as exc:
        fail_config(exc)


def configured_feeds(settings: Settings, config_path: Path | None) -> tuple[FeedConfig, ...] | None:
    """monitor.yaml's feeds, its rule files not read; None (said on stderr) when monitor.yaml
    has errors, so that the store is shown as it is rather than synced to a broken file."""
    try:
        config = load_config(settings, config_path, rules=False)
        check_notifier_options(config.notifier_checks)
        return config.feeds
    except ConfigError as exc:
        count = len(exc.errors) if isinstance(exc, ConfigErrors) else 1
        click.echo(
            f"warning: the configuration has {count} error{'s' if count != 1 else ''} "
            "(see monitor check): showing the feeds as last stored",
            err=True,
        )
        return None


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except ConfigError as exc:
        fail_config(exc)
    except MonitorError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@contextlib.asynccontextmanager
async def opened_store(settings: Settings) -> AsyncIterator[Store]:
    from monitor.store import open_store

    store = await open_store(settings.database_url)
    try:
        yield store
    finally:
        await store.close()


# C0 controls but newline and tab, and DEL: text from feeds (errors, titles) must not drive
# the terminal.
_CONTROLS = {code: "\N{REPLACEMENT CHARACTER}" for code in (*range(32), 127) if code not in (9, 10)}


def printable(text: str) -> str:
    """`text` with the control characters a terminal would act on replaced."""
    return text.translate(_CONTROLS)


def relative_time(moment: datetime | None, now: datetime) -> str:
    """`42s ago`, `in 12m`, `3h05m ago`, `2d4h ago`; `-` for never: short, for tables."""
    if moment is None:
        return "-"
    seconds = (moment - now).total_seconds()
    if abs(seconds) < 1:
        return "now"
    whole = int(abs(seconds))
    if whole < 60:
        span = f"{whole}s"
    elif whole < 3600:
        span = f"{whole // 60}m"
    elif whole < 86400:
        span = f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    else:
        span = f"{whole // 86400}d{whole % 86400 // 3600}h"
    return f"in {span}" if seconds > 0 else f"{span} ago"


def table(*columns: str) -> Table:
    from rich.table import Table

    grid = Table(box=None, header_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold")
    return grid


def print_table(grid: Table) -> None:
    from rich.console import Console

    # Off a terminal (a pipe, a file) nothing limits the width: keep one row per line.
    Console(width=None if sys.stdout.isatty() else 1000).print(grid)


def counted(n: int, noun: str) -> str:
    """`1 feed`, `3 feeds`, `0 feeds`."""
    return f"{n} {noun if n == 1 else noun + 's'}"
