"""Validate settings, monitor.yaml, rules and environment variables."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.common import load
from monitor.cli.options import config_option
from monitor.cli.text import counted

__all__ = ["check"]


@click.command(help=__doc__)
@config_option
def check(config_path: Path | None) -> None:
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
