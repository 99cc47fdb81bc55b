"""Everything the risk RPCs share: store, outbox, cipher, settings, monitoring pipeline, clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from crm_risk.config import RiskSettings
from crm_runtime.crypto import FieldCipher
from crm_runtime.db import Database
from crm_runtime.outbox import Outbox
from crm_runtime.pagination import PageTokens

if TYPE_CHECKING:
    from crm_risk.monitoring.store.ownership import Ownership
    from crm_risk.monitoring.store.pipeline import MonitoringPipeline
    from crm_risk.monitoring.store.wal import WalCheckpointer


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RiskContext:
    """Dependencies of the risk service, built once at startup."""

    db: Database
    outbox: Outbox
    cipher: FieldCipher
    tokens: PageTokens
    settings: RiskSettings
    clock: Callable[[], datetime] = _utc_now
    # Set when something asks for a re-rating, so the review task runs at once.
    review_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    pipeline: MonitoringPipeline | None = None
    ownership: Ownership | None = None
    wal: WalCheckpointer | None = None

    def monitoring(self) -> MonitoringPipeline:
        """Return the monitoring pipeline (set when app.py builds the context)."""
        assert self.pipeline is not None, "monitoring pipeline not started"
        return self.pipeline

    def partitions(self) -> Ownership:
        """Return the monitoring partitions' ownership (set when app.py builds the context)."""
        assert self.ownership is not None, "monitoring ownership not started"
        return self.ownership

    def wal_checkpointer(self) -> WalCheckpointer:
        """Return the store's WAL checkpointer (set when app.py builds the context)."""
        assert self.wal is not None, "WAL checkpointer not built"
        return self.wal
