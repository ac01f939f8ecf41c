"""`monitor check` and the CLI's start-up as a user meets them: --config before or after the
command, every option explained, warnings, a missing database driver, read-only commands on a
broken rule file, and YAML alias bombs refused within a bounded time and memory."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from monitor import cli
from tests.conftest import DATA
from tests.daemon import Daemon
from tests.feedserver import Document, FeedServer
from tests.test_cli import monitor
from tests.test_pipeline import rss

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
    assert f"{config}: ok: 1 feed," in result.output


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


# ---- YAML alias bombs ------------------------------------------------------------------------
BOMB = DATA / "config" / "alias-bomb.yml"  # 9 levels of 9 aliases: 9**9 values once expanded
# Runs `monitor ARGS` as its only child, under a 2 GiB address-space cap (so that a regression
# fails instead of eating the machine), and prints the child's peak RSS and wall time.
_MEASURED = (
    "import resource, subprocess, sys, time\n"
    "def cap():\n"
    "    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
    "start = time.monotonic()\n"
    "try:\n"
    "    command = [sys.executable, '-m', 'monitor', *sys.argv[1:]]\n"
    "    done = subprocess.run(\n"
    "        command, capture_output=True, text=True, timeout=60, preexec_fn=cap\n"
    "    )\n"
    "    code, err = done.returncode, done.stderr\n"
    "except subprocess.TimeoutExpired:\n"
    "    code, err = 'timeout', ''\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(code, peak, time.monotonic() - start)\n"
    "sys.stdout.write(err)\n"
)


async def test_check_refuses_an_alias_bomb_in_bounded_time_and_memory(tmp_path: Path) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_bytes(BOMB.read_bytes())
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _MEASURED, "check", "--config", str(config),
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    first, *errors = out.decode().splitlines()
    code, peak_kib, seconds = first.split()

    assert code == "2", out
    assert errors[0].startswith(f"{config}:6: f[0]: the file uses aliases (*name) that expand to")
    assert int(peak_kib) < 300 * 1024, f"peak RSS {int(peak_kib) // 1024} MiB"
    assert float(seconds) < 30


async def test_a_running_daemon_refuses_an_alias_bomb_and_keeps_polling(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    url = feed_server.serve("/a.xml", Document.of(rss(("1", "One", "x"))))
    config = tmp_path / "monitor.yaml"
    config.write_text(f"feeds:\n  - id: a\n    url: {url}\n    interval: 1s\n")

    async with await Daemon.start(tmp_path) as daemon:
        await feed_server.wait_for_hits("/a.xml")
        config.write_text(config.read_text() + BOMB.read_text())  # the file watcher sees it
        line = await daemon.wait_for_log("reload refused")
        await daemon.wait_for_log("keeping the running configuration")
        polled = len(feed_server.hits("/a.xml"))
        await feed_server.wait_for_hits("/a.xml", count=polled + 2)
        assert (await daemon.get("/readyz")).status_code == 200

    assert "monitor.yaml:10: f[0]: the file uses aliases (*name) that expand to more" in line
    assert daemon.process.returncode == 0


# ---- the PostgreSQL driver -------------------------------------------------------------------
NO_DRIVER = (
    "MONITOR_DATABASE_URL is a PostgreSQL URL, but its driver asyncpg is not installed: "
    "pip install 'feed-monitor[postgres]'"
)


@pytest.mark.parametrize("command", ["check", "once"])
async def test_a_postgres_url_without_asyncpg_says_which_extra_to_install(
    tmp_path: Path, command: str
) -> None:
    # As after `pip install .`: importing asyncpg fails (a module of that name that raises
    # ImportError comes first on the path).
    missing = tmp_path / "without-asyncpg"
    missing.mkdir()
    (missing / "asyncpg.py").write_text("raise ImportError('No module named asyncpg')\n")
    (tmp_path / "monitor.yaml").write_text(FEED)
    path = os.pathsep.join([str(missing), *filter(None, [os.environ.get("PYTHONPATH")])])
    env = {"PYTHONPATH": path, "MONITOR_DATABASE_URL": "postgresql://monitor@127.0.0.1/none"}

    code, out, err = await monitor(command, cwd=tmp_path, env=env)

    assert code == 2, (out, err)
    assert err.splitlines() == [NO_DRIVER, "1 error in the configuration"]
    assert "ModuleNotFoundError" not in err


async def test_check_with_asyncpg_installed_accepts_a_postgres_url(tmp_path: Path) -> None:
    (tmp_path / "monitor.yaml").write_text(FEED)
    env = {"MONITOR_DATABASE_URL": "postgresql://monitor@127.0.0.1/none"}

    code, out, err = await monitor("check", cwd=tmp_path, env=env)

    assert code == 0, err
    assert "ok: 1 feed," in out


# ---- read-only commands on a broken configuration ------------------------------------------
@pytest.mark.parametrize(
    "arguments",
    [
        ["alerts", "--json"],
        ["deliveries", "list", "--json"],
        ["deliveries", "retry"],
        ["silence", "list", "--json"],
        ["status", "--json"],
    ],
    ids=["alerts", "deliveries-list", "deliveries-retry", "silence-list", "status"],
)
async def test_store_commands_work_while_a_rule_file_is_broken(
    tmp_path: Path, arguments: list[str]
) -> None:
    (tmp_path / "rules.yaml").write_text("rules:\n  - id: r\n    keywords: {any: [peace]\n")
    (tmp_path / "monitor.yaml").write_text(FEED + "rules: [rules.yaml]\n")
    code, _, err = await monitor("check", cwd=tmp_path)
    assert code == 2 and "rules.yaml:" in err  # the rule file is broken indeed

    code, out, err = await monitor(*arguments, cwd=tmp_path)

    assert code == 0, err
    assert out.strip() and "rules.yaml" not in err


async def test_feeds_syncs_monitor_yaml_without_reading_the_rules(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text("rules: [\n")
    (tmp_path / "monitor.yaml").write_text(FEED + "rules: [rules.yaml]\n")

    code, out, err = await monitor("feeds", "--json", cwd=tmp_path)

    assert code == 0, err
    assert [row["id"] for row in json.loads(out)] == ["a"]


async def test_feeds_on_a_broken_monitor_yaml_shows_the_stored_feeds(tmp_path: Path) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text(FEED)
    code, _, err = await monitor("feeds", cwd=tmp_path)
    assert code == 0, err
    config.write_text(FEED + "  - id: b\n    url: ftp://example.org/b\n")

    code, out, err = await monitor("feeds", "--json", cwd=tmp_path)

    assert code == 0, err
    assert [row["id"] for row in json.loads(out)] == ["a"]  # kept, not disabled
    assert [row["status"] for row in json.loads(out)] != ["disabled"]
    assert "warning: the configuration has 1 error (see monitor check)" in err


async def test_notify_test_refuses_a_file_notifier_whose_folder_is_missing(tmp_path: Path) -> None:
    (tmp_path / "monitor.yaml").write_text(
        FEED + "notifiers:\n  - id: log\n    type: file\n    path: out/alerts.jsonl\n"
    )

    code, out, err = await monitor("notify-test", "log", cwd=tmp_path)

    assert code == 2, (out, err)
    where = 'monitor.yaml:7: notifiers[0].path: "out/alerts.jsonl"'
    assert f"{where}: the folder {tmp_path}/out does not exist: create it" in err
    assert not (tmp_path / "out").exists()


def test_feeds_with_the_same_url_are_a_warning_naming_both_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "monitor.yaml").write_text(
        "feeds:\n"
        "  - id: a\n    url: https://Example.org/a.xml\n"
        "  - id: b\n    url: https://example.org/b.xml\n"
        "  - id: c\n    url: https://example.org/a.xml/\n"
    )

    result = CliRunner().invoke(cli.main, ["check"])

    assert result.exit_code == 0, result.output  # a warning, not an error
    assert (
        "warning: monitor.yaml:6: feeds[2]: feed c has the same URL as feed a (line 2): "
        "both are polled; remove one"
    ) in result.output
    assert "feed b" not in result.output
    assert "ok: 3 feeds," in result.output


async def test_once_logs_the_same_url_warning(tmp_path: Path, feed_server: FeedServer) -> None:
    url = feed_server.serve("/a.xml", Document.of(rss(("1", "One", "x"))))
    (tmp_path / "monitor.yaml").write_text(
        f"feeds:\n  - id: a\n    url: {url}\n  - id: again\n    url: {url}\n"
    )
    code, _, err = await monitor("once", cwd=tmp_path)
    assert code == 0, err
    assert "WARNING" in err and "feed again has the same URL as feed a (line 2)" in err
