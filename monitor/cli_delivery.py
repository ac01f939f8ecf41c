"""The delivery commands: alerts (with their delivery states), deliveries, silence, notify-test."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from monitor.cli_common import (
    fail_config,
    load,
    load_store_settings,
    opened_store,
    print_table,
    run_async,
    table,
)
from monitor.cli_options import config_option
from monitor.config import MonitorConfig, Settings
from monitor.config.settings import parse_duration
from monitor.config.validate import suggestion
from monitor.errors import ConfigError, DeliveryError
from monitor.models import Alert, DeliveryState, DeliveryStatus
from monitor.notify import build_notifiers, create_webhook_client, sample_alert
from monitor.pipeline import utc_now
from monitor.views import alert_json, iso

__all__ = ["COMMANDS"]


def _duration(value: str | None, option: str) -> timedelta | None:
    try:
        return parse_duration(value) if value else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


# ---- alerts ---------------------------------------------------------------------------------
@click.command()
@config_option
@click.option("--since", default=None, help="Only alerts detected within this long: 1h, 1d, 7d.")
@click.option("--rule", "rule_id", default=None, help="Only this rule's alerts.")
@click.option("--limit", default=100, show_default=True, help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def alerts(
    config_path: Path | None, since: str | None, rule_id: str | None, limit: int, as_json: bool
) -> None:
    """Recent alerts, newest first, with the state of each delivery."""
    settings = load_store_settings()
    window = _duration(since, "--since")
    found = run_async(_recent_alerts(settings, window, rule_id, limit))
    if as_json:
        rows = [alert_json(alert, states) for alert, states in found]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    grid = table("detected", "rule", "score", "title", "url", "deliveries")
    for alert, states in found:
        grid.add_row(
            iso(alert.detected_at) or "-",
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


# ---- deliveries -----------------------------------------------------------------------------
@click.group()
def deliveries() -> None:
    """The outbox: list deliveries, re-queue dead ones."""


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
                "next_attempt_at": iso(row.next_attempt_at),
                "last_error": row.last_error,
                "created_at": iso(row.created_at),
                "sent_at": iso(row.sent_at),
            }
            for row in rows
        ]
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    grid = table("id", "created", "notifier", "rule", "state", "attempts", "last error")
    for row in rows:
        grid.add_row(
            row.id,
            iso(row.created_at) or "-",
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


# ---- silences -------------------------------------------------------------------------------
@click.group()
def silence() -> None:
    """Silence a rule for a while: its alerts are stored, not sent."""


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
    length = _duration(duration, "--for")
    assert length is not None

    async def add() -> Any:
        async with opened_store(loaded.settings) as store:
            return await store.add_silence(rule_id, now=utc_now(), duration=length, reason=reason)

    made = run_async(add())
    click.echo(f"silence {made.id}: rule {rule_id} silenced until {iso(made.ends_at)}")


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
                "starts_at": iso(s.starts_at),
                "ends_at": iso(s.ends_at),
                "reason": s.reason,
            }
            for s in found
        ]
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    grid = table("id", "rule", "until", "reason")
    for item in found:
        grid.add_row(item.id, item.rule_id, iso(item.ends_at) or "-", item.reason)
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


# ---- notify-test ----------------------------------------------------------------------------
@click.command("notify-test")
@config_option
@click.argument("notifier_id", metavar="NOTIFIER")
def notify_test(config_path: Path | None, notifier_id: str) -> None:
    """Send a sample alert to NOTIFIER now and show the receiver's answer (exit 1 if refused)."""
    loaded = load(config_path, logs=False, store=False)
    known = [n.id for n in loaded.config.notifiers]
    if notifier_id not in known:
        fail_config(
            ConfigError(f'unknown notifier "{notifier_id}"{suggestion(notifier_id, known)}')
        )
    try:
        answer = asyncio.run(_send_sample(loaded.settings, loaded.config, notifier_id))
    except ConfigError as exc:
        fail_config(exc)
    except DeliveryError as exc:
        click.echo(f"{notifier_id}: failed: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{notifier_id}: {answer}")


async def _send_sample(settings: Settings, config: MonitorConfig, notifier_id: str) -> str:
    client = create_webhook_client(settings.user_agent)
    try:
        notifiers = build_notifiers(config.notifier_settings(), settings, client)
        notifier = notifiers[notifier_id]
        try:
            return await notifier.send(sample_alert())
        finally:
            for each in notifiers.values():
                await each.aclose()
    finally:
        await client.aclose()


COMMANDS = (alerts, deliveries, silence, notify_test)
