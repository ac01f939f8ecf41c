"""What `monitor` imports: --version and --help nothing heavy, `once` only what its configuration
uses; and the commands of the other modules, loaded on use, are listed and run as before."""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from monitor import cli
from monitor.cli.lazy import LazyGroup, module_docstring
from tests.feedserver import Document, FeedServer
from tests.test_pipeline import rss

# Top-level packages that cost tens to hundreds of milliseconds to import.
HEAVY = ("sqlalchemy", "pydantic", "pydantic_settings", "aiohttp", "httpx", "apscheduler")
HEAVY += ("rich", "yaml", "jinja2", "aiosmtplib", "multiprocessing", "lxml", "feedparser")


async def modules_after(
    arguments: list[str], *, cwd: Path, env: dict[str, str] | None = None
) -> set[str]:
    """The modules loaded by a fresh interpreter that ran `monitor ARGUMENTS` (exit 0)."""
    script = (
        "import sys\n"
        "from monitor.cli import main\n"
        "try:\n"
        f"    main({arguments!r})\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print('MODULES', ' '.join(sorted(sys.modules)))\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    line = next(line for line in out.decode().splitlines() if line.startswith("MODULES "))
    return set(line.split()[1:])


def top_level(modules: set[str]) -> set[str]:
    return {name.partition(".")[0] for name in modules}


@pytest.mark.parametrize("arguments", [["--version"], ["--help"]], ids=["version", "help"])
async def test_version_and_help_import_nothing_heavy(arguments: list[str], tmp_path: Path) -> None:
    loaded = await modules_after(arguments, cwd=tmp_path)
    assert not top_level(loaded) & set(HEAVY)
    assert {m for m in loaded if m.startswith("monitor")} == {
        "monitor",
        "monitor.cli",
        "monitor.cli.lazy",
        "monitor.cli.options",
    }


def test_help_lists_every_command_with_its_own_summary() -> None:
    result = CliRunner().invoke(cli.main, ["--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    commands = result.output.split("Commands:\n", 1)[1]
    for name in ("alerts", "check", "deliveries", "demo", "feeds", "notify-test", "once", "run"):
        assert f"  {name} " in commands
    assert "  silence " in commands and "  status " in commands and "  test-rule " in commands


def test_help_lists_each_command_with_the_summary_of_its_own_help() -> None:
    """`monitor --help` reads each command's help from its module's source, unimported (see
    test_version_and_help_import_nothing_heavy): the text is the command's own."""
    group = cli.main
    assert isinstance(group, LazyGroup)
    for name, spec in cli.COMMANDS.items():
        shown = group.help_from_source(name)
        module, _, attribute = spec.partition(":")
        command = getattr(importlib.import_module(f"monitor.cli.{module}"), attribute)
        assert isinstance(command, click.Command) and command.name == name
        assert shown is not None and shown == command.help, name
        listed = click.Command(name, help=shown)
        for limit in (30, 45, 80, 200):
            assert listed.get_short_help_str(limit) == command.get_short_help_str(limit), name


def test_a_modules_docstring_is_read_as_python_reads_it() -> None:
    source = '# a comment\n\n"""First \\"line\\" \\\\ a backslash.\n\n    More."""\nx = 1\n'
    namespace: dict[str, object] = {}
    exec(compile(source, "m.py", "exec"), namespace)
    assert module_docstring(source) == namespace["__doc__"]
    assert module_docstring("import sys\n") is None


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["alerts", "--help"], "Recent alerts, newest first"),
        (["silence", "list", "--help"], "The silences in force"),
        (["deliveries", "retry", "--help"], "Re-queue dead deliveries"),
        (["status", "--help"], "--cluster"),
        (["notify-test", "--help"], "Send a sample alert to NOTIFIER"),
    ],
    ids=["alerts", "silence-list", "deliveries-retry", "status", "notify-test"],
)
def test_lazy_commands_run(arguments: list[str], expected: str) -> None:
    result = CliRunner().invoke(cli.main, arguments)
    assert result.exit_code == 0, result.output
    assert expected in result.output
    assert arguments[0] in cli.main.commands  # loaded once, then kept


def test_unknown_command_is_still_a_usage_error() -> None:
    result = CliRunner().invoke(cli.main, ["nope"])
    assert result.exit_code == 2
    assert "No such command 'nope'" in result.output


def one_feed_config(folder: Path, feed_server: FeedServer) -> dict[str, str]:
    """A monitor.yaml in `folder` with one served feed and a console notifier; the environment
    that gives it a SQLite store there."""
    url = feed_server.serve("/a.xml", Document.of(rss(("1", "One", "x"))))
    (folder / "monitor.yaml").write_text(
        f"feeds:\n  - id: a\n    url: {url}\nnotifiers:\n  - id: console\n    type: console\n"
    )
    return {**os.environ, "MONITOR_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'monitor.db'}"}


async def test_once_imports_only_what_its_configuration_uses(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    env = one_feed_config(tmp_path, feed_server)
    loaded = top_level(await modules_after(["once"], cwd=tmp_path, env=env))
    assert "sqlalchemy" in loaded and "aiohttp" in loaded  # the store and the fetcher: used
    # No schedule in `once`, no email notifier, no webhook template, no status server.
    assert not loaded & {"apscheduler", "aiosmtplib", "jinja2", "prometheus_client"}


async def test_once_on_unchanged_feeds_loads_no_parser(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    env = one_feed_config(tmp_path, feed_server)
    first = top_level(await modules_after(["once"], cwd=tmp_path, env=env))
    assert {"lxml", "feedparser"} <= first  # the new feed was parsed, in a thread of this process
    unchanged = top_level(await modules_after(["once"], cwd=tmp_path, env=env))
    last = {name.lower() for name in feed_server.hits("/a.xml")[-1].headers}
    assert "if-none-match" in last  # a conditional GET, which the server answers with 304
    assert not unchanged & {"lxml", "feedparser", "multiprocessing"}


async def test_check_imports_neither_the_service_nor_the_store(tmp_path: Path) -> None:
    (tmp_path / "monitor.yaml").write_text(
        "feeds:\n  - id: a\n    url: https://example.org/a.xml\n"
        "notifiers:\n  - id: console\n    type: console\n"
    )
    loaded = await modules_after(["check"], cwd=tmp_path)
    assert "monitor.match" in loaded  # the rules are compiled: that is the check
    assert not loaded & {"monitor.service", "monitor.store", "monitor.pipeline"}
    assert not top_level(loaded) & {"aiohttp", "httpx", "rich", "lxml", "feedparser"}
