"""A click group whose commands are imported when they run. Its --help lists each command with
the summary of its own help, the docstring of the command's module, read from the module's
source rather than imported, so that listing them costs no import."""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

__all__ = ["LazyGroup", "module_docstring"]

# A module's leading string literal, after any blank or comment lines.
_DOCSTRING = re.compile(r'\A(?:[ \t]*(?:#[^\n]*)?\n)*[ \t]*("""|\'\'\')(?:\\.|(?!\1).)*\1', re.S)


def module_docstring(source: str) -> str | None:
    """The docstring of a module given as source, as `module.__doc__` has it; None if it
    opens with anything else."""
    found = _DOCSTRING.match(source)
    if found is None:
        return None
    value = ast.literal_eval(found.group(0).strip())
    return value if isinstance(value, str) else None


class LazyGroup(click.Group):
    """A group of commands given as `{name: "module:attribute"}`, modules of this package."""

    def __init__(self, *args: Any, lazy_commands: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in self.lazy_commands:
            module, _, attribute = self.lazy_commands[cmd_name].partition(":")
            command = getattr(importlib.import_module(f"{__package__}.{module}"), attribute)
            assert isinstance(command, click.Command) and command.name == cmd_name
            self.add_command(command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self._listed(ctx, name)) for name in self.list_commands(ctx)]
        rows = [(name, command) for name, command in rows if not command.hidden]
        if rows:  # as click lays them out
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, c.get_short_help_str(limit)) for name, c in rows])

    def _listed(self, ctx: click.Context, name: str) -> click.Command:
        """The command; while it is not imported, a stand-in with its help, read from source
        (imported after all when there is no source to read: bytecode only)."""
        if name not in self.commands:
            help_text = self.help_from_source(name)
            if help_text is not None:
                return click.Command(name, help=help_text)
        command = self.get_command(ctx, name)
        assert command is not None
        return command

    def help_from_source(self, name: str) -> str | None:
        """The help of command `name`: its module's docstring, from the module's source."""
        module = self.lazy_commands[name].partition(":")[0]
        try:
            source = Path(__file__).with_name(f"{module}.py").read_text(encoding="utf-8")
        except OSError:
            return None
        return module_docstring(source)
