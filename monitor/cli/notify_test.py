"""Send a sample alert to NOTIFIER now and show the receiver's answer (exit 1 if refused)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from monitor.cli.common import fail_config, load
from monitor.cli.options import config_option
from monitor.config import MonitorConfig, Settings
from monitor.config.validate import suggestion
from monitor.errors import ConfigError, DeliveryError
from monitor.notify import build_notifiers, create_webhook_client, sample_alert

__all__ = ["notify_test"]


@click.command("notify-test", help=__doc__)
@config_option
@click.argument("notifier_id", metavar="NOTIFIER")
def notify_test(config_path: Path | None, notifier_id: str) -> None:
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
