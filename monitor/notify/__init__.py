"""Delivery: notifiers, the messages they send, the worker draining the outbox, its jobs.

Other packages import from here. The notifier types that need aiohttp, httpx, jinja2 or
aiosmtplib (webhook, email, file) are loaded on first use of their name, so that importing
this package stays cheap for the commands that never send.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from monitor.notify.base import Notifier
from monitor.notify.build import build_notifiers, needs_webhook_client
from monitor.notify.checks import check_notifier_options, notifier_option_problems
from monitor.notify.console import ConsoleNotifier
from monitor.notify.delivery import Delivery, digest_trigger, gather_digest, gather_overflow
from monitor.notify.messages import (
    AlertMessage,
    ArticleInfo,
    Digest,
    FeedInfo,
    OpsNotice,
    Outgoing,
)
from monitor.notify.outbox import Outbox
from monitor.notify.sample import sample_alert
from monitor.notify.schedule import crontab_trigger
from monitor.notify.worker import DeliveryLimits, DeliveryWorker, human_duration

if TYPE_CHECKING:
    from monitor.notify.email import EmailNotifier, SmtpSettings, SmtpSource
    from monitor.notify.file import FileNotifier
    from monitor.notify.webhook import WebhookNotifier, create_webhook_client

__all__ = [
    "AlertMessage",
    "ArticleInfo",
    "ConsoleNotifier",
    "Delivery",
    "DeliveryLimits",
    "DeliveryWorker",
    "Digest",
    "EmailNotifier",
    "FeedInfo",
    "FileNotifier",
    "Notifier",
    "OpsNotice",
    "Outbox",
    "Outgoing",
    "SmtpSettings",
    "SmtpSource",
    "WebhookNotifier",
    "build_notifiers",
    "check_notifier_options",
    "create_webhook_client",
    "crontab_trigger",
    "digest_trigger",
    "gather_digest",
    "gather_overflow",
    "human_duration",
    "needs_webhook_client",
    "notifier_option_problems",
    "sample_alert",
]

_LAZY = {
    "EmailNotifier": "email",
    "SmtpSettings": "email",
    "SmtpSource": "email",
    "FileNotifier": "file",
    "WebhookNotifier": "webhook",
    "create_webhook_client": "webhook",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
