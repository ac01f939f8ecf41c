"""Feeds by status, deliveries by state, alerts; with --cluster, each replica's id, host,
last heartbeat and the leases it holds."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from monitor.cli.common import load_store_settings, run_async
from monitor.cli.options import config_option
from monitor.cli.store import opened_store
from monitor.cli.tables import print_table, table
from monitor.config import Settings
from monitor.models import iso_utc, utc_now
from monitor.store.replicas import Replica

__all__ = ["status"]

SILENT_AFTER = timedelta(seconds=35)  # three missed heartbeats (every 10 s) and a little


@click.command(help=__doc__)
@config_option
@click.option("--cluster", is_flag=True, help="Also list the replicas using this database.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(config_path: Path | None, cluster: bool, as_json: bool) -> None:
    report = run_async(_report(load_store_settings(logs=False), cluster))
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"database: {report['database']}")
    click.echo("feeds: " + _counts(report["feeds"]))
    click.echo(f"alerts: {report['alerts']}")
    click.echo("deliveries: " + _counts(report["deliveries"]))
    if cluster:
        grid = table(
            "replica", "host", "pid", "version", "state", "heartbeat", "feeds", "deliveries"
        )
        for replica in report["replicas"]:
            grid.add_row(
                replica["id"],
                replica["host"],
                str(replica["pid"]),
                replica["version"],
                replica["state"],
                replica["heartbeat_at"] or "-",
                str(replica["feed_leases"]),
                str(replica["delivery_leases"]),
            )
        print_table(grid)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {name}" for name, n in sorted(counts.items())) or "none"


async def _report(settings: Settings, cluster: bool) -> dict[str, Any]:
    now = utc_now()
    async with opened_store(settings) as store:
        report: dict[str, Any] = {
            "database": store.safe_url,
            "feeds": await store.count_feeds_by_status(),
            "alerts": await store.count_alerts(),
            "deliveries": await store.count_deliveries(),
        }
        if cluster:
            report["replicas"] = [_replica_json(r, now) for r in await store.list_replicas(now=now)]
        return report


def replica_state(replica: Replica, now: datetime) -> str:
    if replica.stopped_at is not None:
        return "stopped"
    return "alive" if now - replica.heartbeat_at <= SILENT_AFTER else "silent"


def _replica_json(replica: Replica, now: datetime) -> dict[str, Any]:
    return {
        "id": replica.id,
        "host": replica.host,
        "pid": replica.pid,
        "version": replica.version,
        "state": replica_state(replica, now),
        "started_at": iso_utc(replica.started_at),
        "heartbeat_at": iso_utc(replica.heartbeat_at),
        "stopped_at": iso_utc(replica.stopped_at),
        "feed_leases": replica.feed_leases,
        "delivery_leases": replica.delivery_leases,
    }
