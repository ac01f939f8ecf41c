"""The exception hierarchy: every error the daemon raises on purpose is a `MonitorError`.

    MonitorError
    ├── ConfigError(path, line, field)        bad settings, monitor.yaml or rules; exit 2
    │   └── ConfigErrors(errors)              several ConfigErrors found in one load
    ├── FeedError(feed_id, url)               one feed failed; never fatal to the daemon
    │   ├── FetchError(status_code, retry_after)
    │   └── ParseError
    ├── StoreError                            the database refused or is unreachable
    │   └── StoreFullError                    the database or its disk is full
    └── DeliveryError                         (delivery issue)
        ├── TransientDeliveryError(retry_after)
        └── PermanentDeliveryError

`str()` of an error carries its context (file:line, feed id and redacted URL) and its cause.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from monitor.redact import redact_url


class MonitorError(Exception):
    """Base of every error the monitor raises on purpose."""

    def __str__(self) -> str:
        message = super().__str__()
        cause = self.__cause__
        if cause is not None and str(cause) and str(cause) not in message:
            return f"{message}: {type(cause).__name__}: {cause}"
        return message


class ConfigError(MonitorError):
    """A problem in settings or a config file, located as `file:line: field: message`."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        super().__init__(self.location_message())

    def location_message(self) -> str:
        parts: list[str] = []
        if self.path is not None:
            parts.append(self.path if self.line is None else f"{self.path}:{self.line}")
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        return ": ".join(parts)


class ConfigErrors(ConfigError):
    """Every error found while loading a configuration, in file and line order."""

    def __init__(self, errors: Sequence[ConfigError]) -> None:
        self.errors = tuple(errors)
        first = self.errors[0] if self.errors else None
        super().__init__(
            "\n".join(str(e) for e in self.errors) or "invalid configuration",
            path=None,
            line=first.line if first else None,
        )

    def location_message(self) -> str:
        return self.message


class FeedError(MonitorError):
    """One feed could not be polled. The URL is kept redacted."""

    def __init__(self, message: str, *, feed_id: str, url: str) -> None:
        self.feed_id = feed_id
        self.url = redact_url(url)
        self.reason = message
        super().__init__(f"feed {feed_id} ({self.url}): {message}")


class FetchError(FeedError):
    """The HTTP exchange failed: network, timeout, status, size cap."""

    def __init__(
        self,
        message: str,
        *,
        feed_id: str,
        url: str,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.retry_after = retry_after
        super().__init__(message, feed_id=feed_id, url=url)


class ParseError(FeedError):
    """The body is not a feed we can read."""


class StoreError(MonitorError):
    """The database failed; the operation was rolled back. `reason` is the database's own
    word for it, one line (e.g. "database or disk is full"), when it gave one."""

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        self.reason = reason
        super().__init__(message)


class StoreFullError(StoreError):
    """The database (or the disk under it) has no room left: the write was rolled back, and
    others that need room will fail the same way until some is freed."""


class DeliveryError(MonitorError):
    """A notifier could not deliver an alert."""


class TransientDeliveryError(DeliveryError):
    """Delivery failed but may work later (network, 5xx, 429)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class PermanentDeliveryError(DeliveryError):
    """Delivery can never work as configured (4xx other than 408/429)."""
