"""Notifiers from their typed options: one per `notifiers:` entry.

Each type's module (and its libraries: aiohttp, jinja2, aiosmtplib) is imported only when an
entry of that type is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from monitor.errors import ConfigError
from monitor.models import (
    ConsoleOptions,
    EmailOptions,
    FileOptions,
    NotifierOptions,
    WebhookOptions,
)
from monitor.notify.base import Notifier

if TYPE_CHECKING:
    import httpx

    from monitor.notify.email import SmtpSettings, SmtpSource

__all__ = ["build_notifiers", "needs_webhook_client"]


def needs_webhook_client(options: Mapping[str, NotifierOptions]) -> bool:
    """Whether `build_notifiers` needs an HTTP client: only webhook notifiers use one."""
    return any(isinstance(each, WebhookOptions) for each in options.values())


def build_notifiers(
    options: Mapping[str, NotifierOptions],
    smtp_source: SmtpSource,
    client: httpx.AsyncClient | None,
) -> dict[str, Notifier]:
    """One notifier per id; webhooks share `client` (see `needs_webhook_client`); email ones
    read `MONITOR_SMTP_*` from `smtp_source` (the Settings). Raises ConfigError for what only
    shows now: an email notifier without SMTP settings, a template that does not compile."""
    notifiers: dict[str, Notifier] = {}
    smtp: SmtpSettings | None = None
    for notifier_id, given in options.items():
        if isinstance(given, WebhookOptions):
            if client is None:
                raise ValueError(f'notifier "{notifier_id}": a webhook needs an HTTP client')
            notifiers[notifier_id] = _webhook_notifier(notifier_id, given, client)
        elif isinstance(given, EmailOptions):
            from monitor.notify.email import EmailNotifier, SmtpSettings

            if smtp is None:
                try:
                    smtp = SmtpSettings.from_settings(smtp_source)
                except ValueError as exc:
                    raise ConfigError(f'notifier "{notifier_id}": {exc}') from None
            notifiers[notifier_id] = EmailNotifier(notifier_id, given, smtp)
        elif isinstance(given, FileOptions):
            from monitor.notify.file import FileNotifier

            notifiers[notifier_id] = FileNotifier(notifier_id, given)
        elif isinstance(given, ConsoleOptions):
            from monitor.notify.console import ConsoleNotifier

            notifiers[notifier_id] = ConsoleNotifier(notifier_id)
    return notifiers


def _webhook_notifier(
    notifier_id: str, options: WebhookOptions, client: httpx.AsyncClient
) -> Notifier:
    from monitor.notify.formats import load_template
    from monitor.notify.webhook import WebhookNotifier

    template = load_template(options.template) if options.template else None
    return WebhookNotifier(notifier_id, options, client, template)
