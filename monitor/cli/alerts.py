"""Recent alerts, newest first, with the state of each delivery."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import click

from monitor.cli.common import duration_option, load_store_settings, run_async
from monitor.cli.options import config_option
from monitor.cli.store import opened_store
from monitor.cli.tables import print_table, table
from monitor.config import Settings
from monitor.models import Alert, DeliveryStatus, iso_utc, utc_now
from monitor.views import alert_json

__all__ = ["alerts"]


@click.command(help=__doc__)
@config_option
@click.option("--since", default=None, help="Only alerts detected within this long: 1h, 1d, 7d.")
@click.option("--rule", "rule_id", default=None, help="Only this rule's alerts.")
@click.option("--limit", default=100, show_default=True, help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def alerts(
    config_path: Path | None, since: str | None, rule_id: str | None, limit: int, as_json: bool
) -> None:
    settings = load_store_settings()
    window = duration_option(since, "--since")
    found = run_async(_recent_alerts(settings, window, rule_id, limit))
    if as_json:
        rows = [alert_json(alert, states) for alert, states in found]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    grid = table("detected", "rule", "score", "title", "url", "deliveries")
    for alert, states in found:
        grid.add_row(
            iso_utc(alert.detected_at) or "-",
            alert.rule_id,
            f"{alert.score:g}",
            alert.title,
            alert.url or "",
            " ".join(_state_text(s) for s in states) or "-",
        )
    print_table(grid)


def _state_text(status: DeliveryStatus) -> str:
    tries = f"({status.attempts})" if status.attempts > 1 else ""
    return f"{status.notifier}:{status.state.value}{tries}"


async def _recent_alerts(
    settings: Settings, window: timedelta | None, rule_id: str | None, limit: int
) -> list[tuple[Alert, list[DeliveryStatus]]]:
    async with opened_store(settings) as store:
        since = utc_now() - window if window else None
        found = await store.list_alerts(since=since, rule_id=rule_id, limit=limit)
        states = await store.delivery_statuses([alert.id for alert in found])
        return [(alert, states.get(alert.id, [])) for alert in found]
