"""Silence a rule for a while: its alerts are stored, not sent."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from monitor.cli.common import duration_option, fail_config, load, load_store_settings, run_async
from monitor.cli.options import config_option
from monitor.cli.store import opened_store
from monitor.cli.tables import print_table, table
from monitor.config.validate import suggestion
from monitor.errors import ConfigError
from monitor.models import iso_utc, utc_now

__all__ = ["silence"]


@click.group(help=__doc__)
def silence() -> None:
    pass


@silence.command("add")
@config_option
@click.argument("rule_id", metavar="RULE")
@click.option("--for", "duration", required=True, help="How long: 30m, 2h, 1d.")
@click.option("--reason", required=True, help="Why, for whoever looks later.")
def add_silence(config_path: Path | None, rule_id: str, duration: str, reason: str) -> None:
    """Silence RULE for a while (it expires by itself)."""
    loaded = load(config_path)
    rules = [rule.id for rule in loaded.config.rules.rules]
    if rule_id not in rules:
        fail_config(ConfigError(f'unknown rule "{rule_id}"{suggestion(rule_id, rules)}'))
    length = duration_option(duration, "--for")
    assert length is not None

    async def add() -> Any:
        async with opened_store(loaded.settings) as store:
            return await store.add_silence(rule_id, now=utc_now(), duration=length, reason=reason)

    made = run_async(add())
    click.echo(f"silence {made.id}: rule {rule_id} silenced until {iso_utc(made.ends_at)}")


@silence.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def list_silences(config_path: Path | None, as_json: bool) -> None:
    """The silences in force (expired ones are not shown)."""
    settings = load_store_settings()

    async def fetch() -> list[Any]:
        async with opened_store(settings) as store:
            return await store.list_silences(now=utc_now())

    found = run_async(fetch())
    if as_json:
        payload = [
            {
                "id": s.id,
                "rule": s.rule_id,
                "starts_at": iso_utc(s.starts_at),
                "ends_at": iso_utc(s.ends_at),
                "reason": s.reason,
            }
            for s in found
        ]
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    grid = table("id", "rule", "until", "reason")
    for item in found:
        grid.add_row(item.id, item.rule_id, iso_utc(item.ends_at) or "-", item.reason)
    print_table(grid)


@silence.command("end")
@config_option
@click.argument("silence_id", metavar="ID")
def end_silence(config_path: Path | None, silence_id: str) -> None:
    """End a silence now."""
    settings = load_store_settings()

    async def end() -> bool:
        async with opened_store(settings) as store:
            return await store.end_silence(silence_id, now=utc_now())

    if not run_async(end()):
        click.echo(f"error: no silence {silence_id} in force", err=True)
        sys.exit(1)
    click.echo(f"silence {silence_id} ended")
