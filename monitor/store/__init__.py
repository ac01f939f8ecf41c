"""The store: feeds, their polling state, the articles seen and their alerts; SQLite or PostgreSQL.

`open_store(url)` connects, applies the migrations and returns the `Store`.
"""

from monitor.store.articles import RecordResult
from monitor.store.engine import Store, open_store
from monitor.store.feed_sync import FeedConfigLike, SyncReport

__all__ = ["FeedConfigLike", "RecordResult", "Store", "SyncReport", "open_store"]
