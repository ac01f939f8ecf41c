"""Configuration: `Settings` from the environment, and monitor.yaml validated into `MonitorConfig`.

    settings = load_settings()            # MONITOR_* variables and ./.env
    config = load_config(settings)        # --config / MONITOR_CONFIG / ./monitor.yaml / embedded
    config.rules                          # the actors and rules of its rule files

Both raise `ConfigErrors` listing every problem as `file:line: field: message` (exit code 2).
Loading reads files: call it from a thread (`asyncio.to_thread`) when an event loop is running.
"""

from __future__ import annotations

import dataclasses
import os
from collections import ChainMap
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values

from monitor.config.defaults import embedded_config_path
from monitor.config.files import Located, load_yaml
from monitor.config.rules import RuleChecks, display_path, load_rules
from monitor.config.schema import (
    FeedConfig,
    MonitorConfig,
    NotifierConfig,
    build_config,
    declared_entries,
)
from monitor.config.settings import Settings, load_settings
from monitor.errors import ConfigError, ConfigErrors

__all__ = [
    "ConfigError",
    "ConfigErrors",
    "FeedConfig",
    "MonitorConfig",
    "NotifierConfig",
    "Settings",
    "load_config",
    "load_settings",
    "resolve_config_path",
]

DEFAULT_CONFIG_NAME = "monitor.yaml"
DOTENV_NAME = ".env"


def resolve_config_path(settings: Settings) -> Path | None:
    """The config file to read: `settings.config` (MONITOR_CONFIG), else `./monitor.yaml` if it
    exists, else None (use the embedded default)."""
    if settings.config is not None:
        return settings.config
    local = Path(DEFAULT_CONFIG_NAME)
    return local if local.is_file() else None


def load_config(
    settings: Settings,
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    rules: bool = True,
    rule_checks: RuleChecks | None = None,
) -> MonitorConfig:
    """Read and validate monitor.yaml: `path` if given, else the one `resolve_config_path` names,
    else the embedded default. `${VAR}` is read from `environ`, by default the environment and
    then `./.env` (the file Settings reads), so a secret kept in .env can be used in the YAML.

    The rule files it names are loaded into `config.rules`, checked against its feeds and
    notifiers. A path that was asked for but does not exist is an error, never a fallback.
    Raises ConfigErrors with every problem found: monitor.yaml first, then each rule file in
    turn, each by line. With `rules=False` the rule files are not read (nor checked): for the
    commands that need only the feeds. `rule_checks` is the match stage's judgement of terms and
    conditions (`monitor.match.checks`): given, their problems are reported with the others.
    """
    path = path if path is not None else resolve_config_path(settings)
    embedded = path is None
    source = embedded_config_path() if path is None else path
    errors: list[ConfigError] = []
    variables = interpolation_environ() if environ is None else environ
    root = load_yaml(source, environ=variables, errors=errors)
    config = build_config(
        root,
        errors,
        source=source,
        embedded=embedded,
        default_interval=settings.default_interval,
        default_max_interval=settings.max_interval,
    )
    # Entries with an error still count as declared: a rule naming one is not at fault.
    feeds: dict[str, tuple[str, ...]] = dict.fromkeys(declared_entries(root, "feeds"), ())
    feeds |= {feed.id: feed.tags for feed in config.feeds}
    notifiers = list(declared_entries(root, "notifiers"))
    files = config.rule_files if rules else ()
    rule_set = load_rules(
        files, errors, feeds=feeds, notifiers=notifiers, environ=variables, checks=rule_checks
    )
    errors += _missing_smtp(settings, config, declared_entries(root, "notifiers"))
    if errors:
        order = [str(source), *(display_path(path) for path in config.rule_files)]
        raise ConfigErrors(sorted(errors, key=lambda e: _error_order(e, order)))
    warnings = _duplicate_urls(config, declared_entries(root, "feeds"))
    return dataclasses.replace(config, rules=rule_set, warnings=warnings)


def _duplicate_urls(
    config: MonitorConfig, entries: Mapping[str, Located]
) -> tuple[ConfigError, ...]:
    """A warning at each feed whose URL an earlier feed already has: both are polled, and an
    article of the two alerts once, so one of them is most likely a copy left behind."""
    first: dict[str, str] = {}
    warnings = []
    for feed in config.feeds:
        same = _comparable_url(feed.url)
        if same not in first:
            first[same] = feed.id
            continue
        earlier = entries[first[same]]
        where = f"line {earlier.line}" if earlier.line else "above"
        warnings.append(
            entries[feed.id].error(
                f"feed {feed.id} has the same URL as feed {first[same]} ({where}): "
                "both are polled; remove one"
            )
        )
    return tuple(warnings)


def _comparable_url(url: str) -> str:
    """`url` with what does not change the resource folded: scheme and host case, a trailing
    slash."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def _missing_smtp(
    settings: Settings, config: MonitorConfig, entries: Mapping[str, Located]
) -> list[ConfigError]:
    """Email notifiers need MONITOR_SMTP_HOST and MONITOR_SMTP_FROM: one error at each."""
    missing = [
        name
        for name, value in (("HOST", settings.smtp_host), ("FROM", settings.smtp_from))
        if not value
    ]
    if not missing:
        return []
    variables = " and ".join(f"MONITOR_SMTP_{name}" for name in missing)
    return [
        entries[n.id].error(f"email notifier {n.id} needs {variables} to be set")
        for n in config.notifiers
        if n.type == "email"
    ]


def _error_order(error: ConfigError, files: list[str]) -> tuple[int, str, int]:
    """Errors without a file first, then by the order files were read, then by line."""
    if error.path is None:
        return (-1, "", error.line or 0)
    rank = files.index(error.path) if error.path in files else len(files)
    return (rank, error.path, error.line or 0)


def interpolation_environ(dotenv: Path = Path(DOTENV_NAME)) -> Mapping[str, str]:
    """The variables `${VAR}` can name: the environment, then the `dotenv` file if there is one."""
    if not dotenv.is_file():
        return os.environ
    values = {name: value for name, value in dotenv_values(dotenv).items() if value is not None}
    return ChainMap(os.environ, values)
