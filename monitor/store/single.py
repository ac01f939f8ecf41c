"""One daemon per SQLite file: SQLite has one writer, so `monitor run` and `monitor once` take an
exclusive lock beside the database file and a second one is refused at start, with a clear
error. (Several replicas share work on PostgreSQL, not on SQLite.)"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from monitor.errors import StoreError
from monitor.store.database import async_database_url, is_file_sqlite

__all__ = ["DaemonLock"]


class DaemonLock:
    """Held from `acquire()` to `release()`; a no-op for PostgreSQL and in-memory SQLite."""

    def __init__(self, database_url: str) -> None:
        url = async_database_url(database_url)
        self.path = Path(f"{url.database}.lock") if is_file_sqlite(url) else None
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Raises StoreError when another daemon holds the database."""
        if self.path is None or self._file is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise StoreError(
                f"the SQLite database {self.path.with_suffix('')} is in use by another monitor "
                f"daemon ({holder}): SQLite takes one daemon at a time; stop it, or use "
                "PostgreSQL (MONITOR_DATABASE_URL) to run several replicas"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
