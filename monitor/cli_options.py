"""Options shared by the commands of every CLI module; imports nothing but click."""

from __future__ import annotations

from pathlib import Path

import click

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="monitor.yaml to use (default: $MONITOR_CONFIG, else ./monitor.yaml, else built-in).",
)
