"""The one small interface every notifier implements, and the options each type takes.

A notifier renders an `Outgoing` message and hands it to its receiver. `send` returns the
receiver's answer in a few words (for logs and `monitor notify-test`) or raises:
`TransientDeliveryError` (try again later, honouring `retry_after` when the receiver gave one)
or `PermanentDeliveryError` (it will never work as configured: the delivery is dead at once).
Neither error's message may hold a secret (a webhook URL's token, a password).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal, Protocol

from monitor.notify.messages import Outgoing

__all__ = [
    "ConsoleOptions",
    "DeliveryPolicy",
    "EmailOptions",
    "FileOptions",
    "Notifier",
    "WebhookFormat",
    "WebhookOptions",
]

WebhookFormat = Literal["json", "slack", "discord", "teams", "template"]


class Notifier(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def concurrency(self) -> int:
        """How many sends may run at once."""
        ...

    async def send(self, message: Outgoing) -> str: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class WebhookOptions:
    url: str  # may hold a token: never log it unredacted
    format: WebhookFormat = "json"
    secret: str | None = None  # Standard Webhooks signing key; `whsec_` + base64, or raw text
    headers: Mapping[str, str] = field(default_factory=dict)
    template: Path | None = None  # format: template; a Jinja2 file, relative paths resolved
    content_type: str = "application/json"  # format: template
    timeout: float = 10.0  # seconds, for the whole request
    concurrency: int = 8


@dataclass(frozen=True, slots=True)
class EmailOptions:
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    subject: str | None = None  # a Jinja2 template string; None for the default subject
    concurrency: int = 2


@dataclass(frozen=True, slots=True)
class FileOptions:
    path: Path  # JSON lines, appended


@dataclass(frozen=True, slots=True)
class ConsoleOptions:
    pass


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """When a notifier's deliveries go out: at once, or gathered into digests; and its cap.

    A digest fires `every` interval or on a five-field `cron` expression (exactly one is set).
    Over `max_per_hour` immediate deliveries in the last hour, the rest are held and sent as
    one summary when the hour has passed.
    """

    mode: Literal["immediate", "digest"] = "immediate"
    every: timedelta | None = None
    cron: str | None = None
    max_per_hour: int | None = None
