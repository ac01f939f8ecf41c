"""The `monitor` command. Each command lives in a module of this package, named in `COMMANDS`,
and is imported only when it runs (or its own --help is asked for): `monitor --version` and
`monitor --help` import click and nothing heavy (`lazy.py`). Exit 0 on success, 2 on bad
config.
"""

from __future__ import annotations

from pathlib import Path

import click

from monitor import __version__
from monitor.cli.lazy import LazyGroup
from monitor.cli.options import group_config_option

__all__ = ["COMMANDS", "main"]

# Command name -> "module:attribute" in this package. A module's docstring is its command's
# help, which `monitor --help` lists without importing the module.
COMMANDS: dict[str, str] = {
    "alerts": "alerts:alerts",
    "check": "check:check",
    "deliveries": "deliveries:deliveries",
    "demo": "demo:demo",
    "feeds": "feeds:feeds",
    "notify-test": "notify_test:notify_test",
    "once": "once:once",
    "run": "run:run",
    "silence": "silence:silence",
    "status": "status:status",
    "test-rule": "testrule:test_rule",
}


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="monitor")
@group_config_option
def main(config_path: Path | None) -> None:
    """Feed monitor: polls news feeds, matches watch rules, delivers alerts.

    --config may come before the command or after it (after it wins)."""
