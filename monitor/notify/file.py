"""The `file` notifier: one JSON document per line, appended: the webhook's `json` payload (for
an alert, exactly the README's "Webhook payload"), or its digest and notice shapes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from monitor.errors import TransientDeliveryError
from monitor.notify.base import FileOptions
from monitor.notify.formats import json_payload
from monitor.notify.messages import Outgoing

__all__ = ["FileNotifier"]


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
        line = json.dumps(json_payload(message), ensure_ascii=False) + "\n"
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
    # No mkdir: `monitor check` requires the folder, and a folder made here by a root
    # `notify-test` would be root's, unwritable by the daemon.
    with path.open("a", encoding="utf-8") as stream:
        stream.write(line)
