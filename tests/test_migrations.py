"""Migrations and opening the store: schema at head, idempotent, equal to the metadata; errors."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from monitor.errors import StoreError
from monitor.models import Article, FeedStateUpdate, FeedStatus
from monitor.store import Store, open_store
from monitor.store.database import SCHEMA_HEAD, alembic_config
from monitor.store.schema import metadata

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


class OneFeed:
    id = "a"
    url = "https://example.org/a.xml"
    interval = timedelta(minutes=10)
    tags: tuple[str, ...] = ()
    backfill = 0
    title: str | None = None
    min_interval: timedelta | None = None
    max_interval: timedelta | None = None


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current_revision(store: Store) -> str | None:
    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with store.engine.connect() as conn:
        return await conn.run_sync(read)


async def test_a_fresh_database_is_at_head(database_url: str) -> None:
    store = await open_store(database_url)
    try:
        assert head_revision() is not None
        assert await current_revision(store) == head_revision()
    finally:
        await store.close()


async def test_opening_twice_keeps_the_data(database_url: str) -> None:
    first = await open_store(database_url)
    try:
        await first.sync_feeds([OneFeed()], now=NOW)
        update = FeedStateUpdate(polled_at=NOW, next_poll_at=NOW, status=FeedStatus.OK)
        item = Article("a", "k", None, None, "t", "s", "c", "s", "c", content_hash="h")
        await first.record_poll("a", update, [item])
    finally:
        await first.close()

    second = await open_store(database_url)
    try:
        assert await current_revision(second) == head_revision()
        assert [(s.feed.id, s.articles) for s in await second.list_feeds()] == [("a", 1)]
    finally:
        await second.close()


async def test_the_migrated_schema_matches_the_metadata(database_url: str) -> None:
    store = await open_store(database_url)

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    try:
        async with store.engine.connect() as conn:
            assert await conn.run_sync(differences) == []
    finally:
        await store.close()


async def test_migrations_go_down_to_base_and_up_again(sqlite_url: str) -> None:
    # The hand-run path of env.py (own connection from sqlalchemy.url), as autogenerate uses it.
    # It runs its own event loop, hence the thread.
    config = alembic_config(url=sqlite_url)
    await asyncio.to_thread(command.upgrade, config, "head")
    await asyncio.to_thread(command.downgrade, config, "base")

    store = await open_store(sqlite_url)
    try:
        assert await current_revision(store) == head_revision()
        assert await store.list_feeds() == []
    finally:
        await store.close()


async def test_concurrent_opens_migrate_once(database_url: str) -> None:
    stores = await asyncio.gather(*(open_store(database_url) for _ in range(3)))
    try:
        assert [await current_revision(s) for s in stores] == [head_revision()] * 3
    finally:
        for store in stores:
            await store.close()


async def test_the_sqlite_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "state" / "deep" / "monitor.db"

    store = await open_store(f"sqlite+aiosqlite:///{path}")
    await store.close()

    assert path.is_file()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://u:s3cret@127.0.0.1:1/x",
        "postgresql://u:s3cret@127.0.0.1:1/x",
        "nosuchdb://u:s3cret@127.0.0.1/x",
        "u:s3cret@127.0.0.1/x",
        "postgresql+asyncpg://u:s3cret@127.0.0.1:99999/x",
    ],
    ids=["unreachable", "unreachable-plain", "unknown-dialect", "not-a-url", "bad-port"],
)
async def test_a_bad_database_url_raises_store_error_without_the_password(url: str) -> None:
    with pytest.raises(StoreError) as caught:
        await open_store(url)

    assert "s3cret" not in str(caught.value)
    # Nor in the traceback a log handler would print, causes included.
    assert "s3cret" not in "".join(traceback.format_exception(caught.value))


async def test_a_wrong_password_is_not_echoed(postgres_url: str) -> None:
    url = postgres_url.replace("postgres@", "nobody:s3cret@")

    with pytest.raises(StoreError, match="cannot migrate database") as caught:
        await open_store(url)

    assert "s3cret" not in str(caught.value)
    assert "nobody:***@" in str(caught.value)


def test_schema_head_is_alembics_head() -> None:
    assert head_revision() == SCHEMA_HEAD


async def test_a_database_at_head_opens_without_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/at-head.db"
    store = await open_store(url)  # migrates
    await store.close()
    script = (
        "import asyncio, sys\n"
        "from monitor.store import open_store\n"
        "async def main():\n"
        f"    store = await open_store({url!r})\n"
        "    await store.close()\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
