"""Everything the client RPCs share: store, cipher, outbox, segment catalogue, clock.

It also holds the two ways to find a client the caller may see (the cached GetClient path and
the locked read-for-change path) and the re-segmentation every change ends with.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from crm.client.v1 import client_pb2
from crm_client.access import can_see, denied
from crm_client.mapping import client_message
from crm_client.models import ClientRow
from crm_client.segmentation.engine import CompiledSegment
from crm_client.segments import SegmentCatalog, recompute
from crm_client.store.clients import all_clients, client_by_id, client_record
from crm_runtime.auth import Principal
from crm_runtime.crypto import FieldCipher
from crm_runtime.db import Database
from crm_runtime.errors import NotFound
from crm_runtime.outbox import Outbox
from crm_runtime.pagination import PageTokens
from crm_runtime.readcache import ReadCache

# Clients are re-segmented this many at a time when a definition changes.
RESEGMENT_BATCH = 500


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ClientContext:
    """Dependencies of the client service, built once at startup."""

    db: Database
    cipher: FieldCipher
    outbox: Outbox
    tokens: PageTokens
    catalog: SegmentCatalog = field(default_factory=SegmentCatalog)
    clock: Callable[[], datetime] = _utc_now
    # Client rows for GetClient, on SQLite only (see crm_runtime.readcache).
    client_cache: ReadCache[ClientView] | None = None

    async def resegment(
        self,
        session: AsyncSession,
        client: ClientRow,
        *,
        cause: str,
        actor: str,
        now: datetime | None = None,
        only: Sequence[CompiledSegment] | None = None,
        fresh: bool = False,
    ) -> int:
        """Recompute the client's segments and record the moves; return how many moved."""
        return await recompute(
            session,
            client,
            catalog=self.catalog,
            cipher=self.cipher,
            outbox=self.outbox,
            cause=cause,
            actor=actor,
            now=now,
            only=only,
            fresh=fresh,
        )

    async def resegment_everyone(
        self, session: AsyncSession, segment: CompiledSegment, *, cause: str, actor: str
    ) -> None:
        """Re-evaluate one (new or changed) segment for every client, in batches."""
        async for rows in all_clients(session, batch=RESEGMENT_BATCH):
            for row in rows:
                await self.resegment(session, row, cause=cause, actor=actor, only=[segment])


@dataclass(frozen=True, slots=True)
class ClientView:
    """What GetClient needs: the assignment (for the access check) and the finished message."""

    relationship_manager: str
    team: str
    message: client_pb2.Client


def _absent(client_id: str, principal: Principal) -> Exception:
    """NOT_FOUND for portfolio-wide callers; for others the same error as someone else's."""
    if principal.sees_whole_portfolio:
        return NotFound(f"clients/{client_id} does not exist", reason="CLIENT_NOT_FOUND")
    return denied()


async def read_client(
    ctx: ClientContext, client_id: str, principal: Principal
) -> client_pb2.Client:
    """Return the client's message on the fast read path (GetClient).

    The cache holds finished messages (never mutated after creation), so a hit costs a dict
    lookup and the access check; a miss reads one row outside the ORM.
    """
    cache = ctx.client_cache
    view = cache.get(client_id) if cache is not None else None
    if view is None:
        row = await client_record(ctx.db, client_id)
        if row is None:
            raise _absent(client_id, principal)
        view = ClientView(
            row.relationship_manager,
            row.team,
            client_message(row),
        )
        if cache is not None:
            cache.put(client_id, view)
    if not can_see(principal, view):
        raise denied()
    return view.message


async def load_client(
    session: AsyncSession,
    client_id: str,
    principal: Principal,
    *,
    for_update: bool = False,
) -> ClientRow:
    """Return the client with this id if the caller may see it.

    Callers without a portfolio-wide role get the same PERMISSION_DENIED for a client that
    exists but is not theirs and for one that does not exist.
    """
    row = await client_by_id(session, client_id, for_update=for_update)
    if row is None:
        raise _absent(client_id, principal)
    if not can_see(principal, row):
        raise denied()
    return row
