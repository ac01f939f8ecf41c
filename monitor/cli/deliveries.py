"""The outbox: list deliveries, re-queue dead ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from monitor.cli.common import load_store_settings, run_async
from monitor.cli.options import config_option
from monitor.cli.store import opened_store
from monitor.cli.tables import print_table, table
from monitor.models import DeliveryState, iso_utc, utc_now

__all__ = ["deliveries"]


@click.group(help=__doc__)
def deliveries() -> None:
    pass


@deliveries.command("list")
@config_option
@click.option(
    "--state",
    type=click.Choice([s.value for s in DeliveryState]),
    default=None,
    help="Only deliveries in this state (dead: given up; held: waiting for a digest or a cap).",
)
@click.option("--notifier", "notifier_id", default=None, help="Only this notifier's.")
@click.option("--limit", default=100, show_default=True, help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def list_deliveries(
    config_path: Path | None, state: str | None, notifier_id: str | None, limit: int, as_json: bool
) -> None:
    """Deliveries, newest first."""
    settings = load_store_settings()

    async def fetch() -> list[Any]:
        async with opened_store(settings) as store:
            return await store.list_deliveries(state=state, notifier_id=notifier_id, limit=limit)

    rows = run_async(fetch())
    if as_json:
        payload = [
            {
                "id": row.id,
                "notifier": row.notifier_id,
                "kind": row.kind,
                "rule": row.rule_id,
                "alert_id": row.alert_id,
                "state": row.state.value,
                "attempts": row.attempts,
                "next_attempt_at": iso_utc(row.next_attempt_at),
                "last_error": row.last_error,
                "created_at": iso_utc(row.created_at),
                "sent_at": iso_utc(row.sent_at),
            }
            for row in rows
        ]
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    grid = table("id", "created", "notifier", "rule", "state", "attempts", "last error")
    for row in rows:
        grid.add_row(
            row.id,
            iso_utc(row.created_at) or "-",
            row.notifier_id,
            row.rule_id or row.kind,
            row.state.value,
            str(row.attempts),
            row.last_error or "",
        )
    print_table(grid)


@deliveries.command("retry")
@config_option
@click.option("--notifier", "notifier_id", default=None, help="Only this notifier's.")
@click.argument("ids", nargs=-1)
def retry(config_path: Path | None, notifier_id: str | None, ids: tuple[str, ...]) -> None:
    """Re-queue dead deliveries (all, a notifier's, or the IDS given): due now, attempts reset.

    A running daemon picks them up within a second.
    """
    settings = load_store_settings()

    async def requeue() -> int:
        async with opened_store(settings) as store:
            return await store.retry_dead(now=utc_now(), notifier_id=notifier_id, ids=ids)

    count = run_async(requeue())
    click.echo(f"re-queued {count} dead deliver{'y' if count == 1 else 'ies'}")
