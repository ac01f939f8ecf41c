"""Shared fixtures: a clean environment per test, real SQLite and PostgreSQL databases."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from monitor.store import Store, open_store
from tests.feedserver import FeedServer
from tests.webhookreceiver import WebhookReceiver

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
# The whole corpus, ../shared/corpus, is beside the repository on developer machines and in CI; a
# user's clone has only the slice in tests/data/corpus (see its SOURCES.md), laid out the same way.
SHARED_CORPUS = REPO.parent / "shared" / "corpus"
CORPUS = SHARED_CORPUS if (SHARED_CORPUS / "feeds" / "real").is_dir() else DATA / "corpus"
# The example article of the kind the monitor watches (a copy of ../shared/examples').
EXAMPLE = DATA / "examples" / "kopirkin-peace-treaty.txt"

POSTGRES_ADMIN_URL = os.environ.get(
    "MONITOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(autouse=True)
def _restore_environ() -> Iterator[None]:
    """Tests may set MONITOR_* variables; each starts from the same environment."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("MONITOR_") and name != "MONITOR_TEST_POSTGRES_URL":
            del os.environ[name]
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'monitor.db'}"


@contextlib.asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    """A new PostgreSQL database, dropped on exit, so that tests can run in parallel."""
    asyncpg = pytest.importorskip("asyncpg")
    name = f"monitor_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:  # pragma: no cover - depends on the machine
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {exc}")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A store URL, once for SQLite and once for PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'monitor.db'}"
        return
    async with fresh_postgres_database() as url:
        yield url


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    """A real HTTP server on 127.0.0.1 serving feeds, in the test's event loop."""
    async with FeedServer() as server:
        yield server


StoreFactory = Callable[[str], Awaitable[Store]]


@pytest.fixture
async def make_store() -> AsyncIterator[StoreFactory]:
    """Opens stores on demand (several on one database stand for replicas) and closes them."""
    opened: list[Store] = []

    async def make(url: str) -> Store:
        opened.append(await open_store(url))
        return opened[-1]

    try:
        yield make
    finally:
        for each in opened:
            await each.close()


@pytest.fixture
async def receiver() -> WebhookReceiver:
    """A webhook receiver on 127.0.0.1, for the tests that deliver to one."""
    async with WebhookReceiver() as running:
        yield running  # type: ignore[misc]
