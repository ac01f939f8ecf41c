"""What the `monitor` commands share: loading the settings and configuration with file:line
errors (exit 2), running a coroutine, durations given as options, the line that says which
configuration runs."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from monitor.cli.text import counted
from monitor.config import (
    ConfigError,
    ConfigErrors,
    FeedConfig,
    MonitorConfig,
    Settings,
    load_config,
    load_settings,
)
from monitor.config.settings import database_driver_problem, parse_duration
from monitor.errors import MonitorError
from monitor.logging import configure_logging
from monitor.match import Matcher, compile_rules
from monitor.match import checks as rule_checks
from monitor.notify import check_notifier_options

# The service, the store and rich are not imported here: `check` needs none of them, and each
# costs a noticeable part of a command's start (`store.py` and `tables.py` import them).

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
            config = load_config(settings, config_path, rule_checks=rule_checks)
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


def describe(config: MonitorConfig) -> str:
    """The configuration a command runs on, for its log: the file, or the embedded default."""
    if config.embedded:
        return (
            f"no monitor.yaml found (--config, MONITOR_CONFIG, ./monitor.yaml): running on the "
            f"embedded default: {len(config.feeds)} world-news feeds, the example rules, "
            f"alerts on the console"
        )
    feeds, files = counted(len(config.feeds), "feed"), counted(len(config.rule_files), "rule file")
    return f"config {config.source}: {feeds}, {files}"


def duration_option(value: str | None, option: str) -> timedelta | None:
    """An option's duration (`--since 1d`), None when not given; a usage error if malformed."""
    try:
        return parse_duration(value) if value else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None
