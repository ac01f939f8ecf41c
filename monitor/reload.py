"""Hot reload triggers: SIGHUP (an event the CLI sets) and changes to the config or rule files.

The files are watched through their folders (editors often replace a file rather than write
it), and only changes to monitor.yaml itself or to a YAML file of a rule path count.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from watchfiles import Change, awatch

from monitor.config import MonitorConfig

__all__ = ["watch_for_reloads", "watched_paths"]

log = logging.getLogger(__name__)

DEBOUNCE_MS = 300  # changes closer than this are one reload (an editor's write and rename)
_RULE_SUFFIXES = (".yaml", ".yml")


def watched_paths(config: MonitorConfig) -> tuple[set[Path], Callable[[Change, str], bool]]:
    """The folders to watch, and the filter that keeps the changes that matter."""
    if config.source is None or config.embedded:
        return set(), lambda _change, _path: False
    source = config.source.resolve()
    files = {source}
    folders: set[Path] = set()
    for path in config.rule_paths:
        resolved = path.resolve()
        if resolved.is_dir():
            folders.add(resolved)
        else:
            files.add(resolved)
    roots = {f.parent for f in files} | folders

    def relevant(_change: Change, changed: str) -> bool:
        path = Path(changed)
        if path in files:
            return True
        return path.suffix.lower() in _RULE_SUFFIXES and any(
            folder == path or folder in path.parents for folder in folders
        )

    return {root for root in roots if root.is_dir()}, relevant


async def watch_for_reloads(
    current: Callable[[], MonitorConfig],
    reload: Callable[[], Awaitable[object]],
    requested: asyncio.Event,
    *,
    watch_files: bool = True,
) -> None:
    """Call `reload` on each `requested` event (SIGHUP) and on each change to the files of
    `current()` (re-read after every reload, so new rule paths are watched). Runs until
    cancelled."""
    signals = asyncio.create_task(_on_requests(reload, requested))
    try:
        if not watch_files:
            await signals
            return
        while True:
            roots, relevant = watched_paths(current())
            if not roots:
                await signals
                return
            await _next_change(roots, relevant)
            log.info("configuration files changed: reloading")
            await reload()
    finally:
        signals.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await signals


async def _on_requests(reload: Callable[[], Awaitable[object]], requested: asyncio.Event) -> None:
    while True:
        await requested.wait()
        requested.clear()
        log.info("SIGHUP: reloading the configuration")
        await reload()


async def _next_change(roots: Iterable[Path], relevant: Callable[[Change, str], bool]) -> None:
    async for _changes in awatch(
        *roots, watch_filter=relevant, debounce=DEBOUNCE_MS, step=50, recursive=True
    ):
        return
