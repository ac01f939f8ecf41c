"""The `console` notifier (the embedded default's): one readable block per message on stdout."""

from __future__ import annotations

import sys
from typing import TextIO

from monitor.notify.messages import AlertMessage, Digest, OpsNotice, Outgoing, iso_utc

__all__ = ["ConsoleNotifier", "render_text"]


class ConsoleNotifier:
    def __init__(self, notifier_id: str, stream: TextIO | None = None) -> None:
        self._id = notifier_id
        self._stream = stream

    @property
    def id(self) -> str:
        return self._id

    @property
    def concurrency(self) -> int:
        return 1

    async def send(self, message: Outgoing) -> str:
        stream = self._stream or sys.stdout
        stream.write(render_text(message) + "\n")
        stream.flush()
        return "printed"

    async def aclose(self) -> None:
        return None


def render_text(message: Outgoing) -> str:
    if isinstance(message, AlertMessage):
        return _alert_text(message)
    if isinstance(message, Digest):
        lines = [f"DIGEST {iso_utc(message.created_at)}: {len(message.alerts)} alerts"]
        for rule_id, alerts in message.by_rule().items():
            lines.append(f"  {rule_id}:")
            lines += [f"    - {a.article.title} <{a.article.url or '-'}>" for a in alerts]
        if message.omitted:
            lines.append(f"  and {message.omitted} more")
        return "\n".join(lines)
    return _notice_text(message)


def _alert_text(alert: AlertMessage) -> str:
    article = alert.article
    lines = [
        f"ALERT {alert.rule_id} (score {alert.score:g}): {article.title}",
        f"  {article.url or '-'}  [{article.feed.id}, {iso_utc(alert.detected_at)}]",
    ]
    for hit in alert.match.keywords:
        lines.append(f"  {hit.term!r} in {hit.field}: {hit.snippet}")
    for actor in alert.match.actors:
        lines.append(f"  @{actor.id} ({actor.name}): {', '.join(actor.mentions)}")
    return "\n".join(lines)


def _notice_text(notice: OpsNotice) -> str:
    return f"NOTICE {iso_utc(notice.at)}: {notice.summary}"
