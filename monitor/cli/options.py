"""Options shared by the commands of every CLI module; imports nothing but click."""

from __future__ import annotations

from pathlib import Path

import click

CONFIG_HELP = "monitor.yaml to use (default: $MONITOR_CONFIG, else ./monitor.yaml, else built-in)."


def _or_the_groups(ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path | None:
    """A command's --config, else the one given before the command (`monitor --config x check`)."""
    if value is not None:
        return value
    parent = ctx.parent
    while parent is not None:
        given = parent.params.get("config_path")
        if isinstance(given, Path):
            return given
        parent = parent.parent
    return None


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    callback=_or_the_groups,
    help=CONFIG_HELP,
)

# The same option on the `monitor` group itself, for the command that comes after it.
group_config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=CONFIG_HELP,
)
