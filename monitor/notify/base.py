"""The one small interface every notifier implements (the options each type takes are models).

A notifier renders an `Outgoing` message and hands it to its receiver. `send` returns the
receiver's answer in a few words (for logs and `monitor notify-test`) or raises:
`TransientDeliveryError` (try again later, honouring `retry_after` when the receiver gave one)
or `PermanentDeliveryError` (it will never work as configured: the delivery is dead at once).
Neither error's message may hold a secret (a webhook URL's token, a password).
"""

from __future__ import annotations

from typing import Protocol

from monitor.models import (
    ConsoleOptions,
    DeliveryPolicy,
    EmailOptions,
    FileOptions,
    NotifierOptions,
    WebhookFormat,
    WebhookOptions,
)
from monitor.notify.messages import Outgoing

__all__ = [
    "ConsoleOptions",
    "DeliveryPolicy",
    "EmailOptions",
    "FileOptions",
    "Notifier",
    "NotifierOptions",
    "WebhookFormat",
    "WebhookOptions",
]


class Notifier(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def concurrency(self) -> int:
        """How many sends may run at once."""
        ...

    async def send(self, message: Outgoing) -> str: ...

    async def aclose(self) -> None: ...
