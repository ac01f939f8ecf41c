"""The item memo: what a parse remembers of a document's items for the next parse of the same
feed (`incremental.py`), and the items' dates it gives back for adaptive polling."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MEMO_VERSION = 1
HEADER = struct.Struct("<B8s")  # format version, context digest
ITEM = struct.Struct("<8s8sq")  # raw bytes digest, article key digest, published (µs)
NO_DATE = -(2**63)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)

MemoRow = tuple[bytes, bytes, int]  # raw digest, key digest, published


@dataclass(frozen=True, slots=True)
class Memo:
    """A digest of the context the items were read in, and a row per item in document order."""

    context: bytes
    rows: list[MemoRow]

    def encode(self) -> bytes:
        return HEADER.pack(MEMO_VERSION, self.context) + b"".join(
            ITEM.pack(*row) for row in self.rows
        )

    @classmethod
    def decode(cls, memo: bytes | None) -> Memo | None:
        """The memo, or None for none, another format version or garbage."""
        if not memo or len(memo) < HEADER.size or (len(memo) - HEADER.size) % ITEM.size:
            return None
        memo = bytes(memo)
        version, context = HEADER.unpack_from(memo)
        if version != MEMO_VERSION:
            return None
        return cls(context, list(ITEM.iter_unpack(memo[HEADER.size :])))


def memo_published(memo: bytes) -> list[datetime]:
    """The published times (UTC) of the memo's document's articles, in document order: items
    without a date, and items repeating an earlier one's key (no article of their own), left
    out. Empty for a memo that is not one."""
    decoded = Memo.decode(memo)
    if decoded is None:
        return []
    seen: set[bytes] = set()
    published = []
    for _, key, micros in decoded.rows:
        if key in seen:
            continue
        seen.add(key)
        if micros != NO_DATE:
            published.append(EPOCH + micros * MICROSECOND)
    return published


def micros(moment: datetime | None) -> int:
    """A date as the memo keeps it: microseconds since the epoch, NO_DATE for none."""
    if moment is None:
        return NO_DATE
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // MICROSECOND
