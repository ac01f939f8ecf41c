"""The store, opened for one command and closed after it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from monitor.config import Settings
from monitor.store import Store, open_store

__all__ = ["opened_store"]


@contextlib.asynccontextmanager
async def opened_store(settings: Settings) -> AsyncIterator[Store]:
    store = await open_store(settings.database_url)
    try:
        yield store
    finally:
        await store.close()
