"""What the delivery worker needs of the store: the outbox, as a Protocol.

The worker is given any object with these methods (`monitor.store.Store` in the service), so
that notify never imports the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from monitor.models import ClaimedDelivery, DeliveryOutcome

__all__ = ["Outbox"]


class Outbox(Protocol):
    async def claim_deliveries(
        self, owner: str, *, now: datetime, limit: int, lease: timedelta
    ) -> list[ClaimedDelivery]:
        """Lease up to about `limit` due deliveries (whole batches) to `owner`, oldest first."""
        ...

    async def settle_deliveries(
        self, outcomes: Sequence[DeliveryOutcome], *, now: datetime
    ) -> None: ...

    async def renew_deliveries(self, owner: str, *, until: datetime) -> int: ...

    async def release_deliveries(self, owner: str) -> int: ...

    async def next_delivery_at(self) -> datetime | None: ...

    async def sent_since(self, notifier_id: str, since: datetime) -> int: ...

    async def hold_deliveries(
        self, ids: Sequence[str], *, until: datetime, now: datetime
    ) -> None: ...

    async def gather_held(
        self, notifier_id: str, *, now: datetime, due_only: bool = False
    ) -> tuple[str, int] | None:
        """Gather `notifier_id`'s held deliveries into one batch due now: (batch id, count)."""
        ...

    async def delete_expired_silences(self, *, before: datetime) -> int: ...
