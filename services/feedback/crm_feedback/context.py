"""Everything the feedback RPCs share: store, outbox, secrets, KPI weights, clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from crm_runtime.auth import TokenSigner
from crm_runtime.db import Database
from crm_runtime.outbox import Outbox
from crm_runtime.pagination import PageTokens

# The API's full name: idempotency records are kept per method, "<SERVICE>/<Method>".
SERVICE = "crm.feedback.v1.FeedbackService"


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class FeedbackContext:
    """Dependencies of the feedback service, built once at startup."""

    db: Database
    outbox: Outbox
    tokens: PageTokens
    answer_secret: bytes
    # Address of the client service (segment members) and this service's signer for it.
    client_addr: str
    signer: TokenSigner | None
    answer_window_days: int
    kpi_version: str
    kpi_weights: Mapping[str, float] | None
    clock: Callable[[], datetime] = _utc_now
    # Set when the service stops; the scheduler's loop ends at its next wait.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
