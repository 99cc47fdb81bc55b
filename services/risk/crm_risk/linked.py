"""What warning and rating code needs from contagion, without importing it.

Contagion (crm_risk.groups.contagion) raises its linked warnings through early_warnings and
reads grades from rating, so those modules cannot import it back; callers that hold the
settings pass a `Linked` (crm_risk.groups.contagion.Contagion) down to them instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from crm_runtime.outbox import Outbox

# Warnings that are themselves links to other clients' trouble never start contagion.
LINKED_RULES = frozenset({"contagion", "guarantee_circle"})


class Linked(Protocol):
    """Spreads trouble at one client to the clients tied to it."""

    @property
    def grade(self) -> str:
        """The grade at or below which a downgrade spreads."""
        ...

    async def spread(
        self, session: AsyncSession, outbox: Outbox, client_id: str, *, cause: str,
        now: datetime,
    ) -> list[str]:
        """Warn the related clients and ask for their re-rating; return their ids."""
        ...
