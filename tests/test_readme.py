"""The README's tables stay true: every setting and every command, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import click

from monitor import cli
from monitor.config.settings import ENV_PREFIX, Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def section(title: str) -> str:
    """The text of a `## title` section of the README."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def test_settings_table_lists_every_setting_and_only_those() -> None:
    rows = re.findall(r"^\| `(MONITOR_[A-Z_]+)` \|", section("Settings"), re.MULTILINE)
    expected = {f"{ENV_PREFIX}{name}".upper() for name in Settings.model_fields}
    assert len(rows) == len(set(rows)), "a setting is listed twice"
    assert set(rows) == expected


def test_commands_table_lists_every_command() -> None:
    rows = re.findall(r"^\| `monitor ([a-z-]+)", section("Commands"), re.MULTILINE)
    commands = cli.main.list_commands(click.Context(cli.main))
    assert set(rows) == set(commands)


def test_what_users_read_points_to_nothing_outside_the_repository() -> None:
    """A clone holds neither DESIGN.md nor ../shared: the README, the shipped rules and the
    package's own texts must not send anyone there (the payload and rule syntax are in the
    README)."""
    repo = README.parent
    texts = [README, *sorted((repo / "rules").glob("*.yaml"))]
    texts += sorted(p for p in (repo / "monitor").rglob("*") if p.suffix in {".py", ".j2", ".yaml"})
    pointing = [
        str(path.relative_to(repo))
        for path in texts
        if "DESIGN.md" in path.read_text(encoding="utf-8")
        or "../shared" in path.read_text(encoding="utf-8")
    ]
    assert pointing == []
    assert "\n## Webhook payload\n" in README.read_text(encoding="utf-8")


def test_generated_files_are_ignored_by_git() -> None:
    """The database, its WAL files and its lock, as `monitor run` leaves them in the folder."""
    import fnmatch

    ignore = (README.parent / ".gitignore").read_text(encoding="utf-8").split()
    for name in ("monitor.db", "monitor.db-wal", "monitor.db-shm", "monitor.db.lock"):
        assert any(fnmatch.fnmatch(name, pattern) for pattern in ignore), name
