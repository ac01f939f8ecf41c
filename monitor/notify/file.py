"""The `file` notifier: one JSON document per line, appended (the webhook's `json` payload)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from monitor.errors import TransientDeliveryError
from monitor.notify.base import FileOptions
from monitor.notify.messages import AlertMessage, Digest, Outgoing, alert_payload, iso_utc

__all__ = ["FileNotifier", "json_document"]


class FileNotifier:
    def __init__(self, notifier_id: str, options: FileOptions) -> None:
        self._id = notifier_id
        self._path = options.path
        self._lock = asyncio.Lock()  # whole lines: one writer at a time

    @property
    def id(self) -> str:
        return self._id

    @property
    def concurrency(self) -> int:
        return 1

    async def send(self, message: Outgoing) -> str:
        line = json.dumps(json_document(message), ensure_ascii=False) + "\n"
        async with self._lock:
            try:
                await asyncio.to_thread(_append, self._path, line)
            except OSError as exc:
                raise TransientDeliveryError(
                    f"cannot append to {self._path}: {exc.strerror or exc}"
                ) from None
        return f"appended to {self._path.name}"

    async def aclose(self) -> None:
        return None


def _append(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as stream:
        stream.write(line)


def json_document(message: Outgoing) -> dict[str, object]:
    """An alert's DESIGN.md payload; a digest or a notice in the webhook's json shapes."""
    if isinstance(message, AlertMessage):
        return alert_payload(message)
    if isinstance(message, Digest):
        return {
            "type": "digest",
            "id": message.delivery_id,
            "created_at": iso_utc(message.created_at),
            "alerts": [alert_payload(alert) for alert in message.alerts],
            "omitted": message.omitted,
        }
    return {
        "type": message.kind.value,
        "id": message.delivery_id,
        "at": iso_utc(message.at),
        "feed": {"id": message.feed.id, "title": message.feed.title, "url": message.feed.url},
        "failures": message.failures,
        "error": message.error,
        "since": iso_utc(message.since),
    }
