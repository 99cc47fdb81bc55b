"""Everything the client RPCs share: store, cipher, outbox, segment catalogue, clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.client.v1 import client_pb2
from crm_client.access import can_see, denied
from crm_client.mapping import client_message
from crm_client.models import ClientRow
from crm_client.segmentation.features import credit_tier
from crm_client.segments import SegmentCatalog
from crm_client.validation import CLIENT_NAME_RE, parse_name
from crm_runtime.auth import Principal
from crm_runtime.crypto import FieldCipher
from crm_runtime.db import Database
from crm_runtime.errors import NotFound
from crm_runtime.outbox import Outbox
from crm_runtime.pagination import PageTokens
from crm_runtime.readcache import ReadCache

CLIENT_TABLE: Table = ClientRow.__table__  # type: ignore[attr-defined]


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


@dataclass(frozen=True, slots=True)
class ClientView:
    """What GetClient needs: the assignment (for the access check) and the finished message."""

    relationship_manager: str
    team: str
    message: client_pb2.Client


async def read_client(ctx: ClientContext, name: str, principal: Principal) -> client_pb2.Client:
    """Return the named client's message on the fast read path (GetClient).

    The cache holds finished messages (never mutated after creation), so a hit costs a dict
    lookup and the access check; a miss reads one row outside the ORM.
    """
    client_id = parse_name(name, CLIENT_NAME_RE, "name")
    cache = ctx.client_cache
    view = cache.get(client_id) if cache is not None else None
    if view is None:
        row = await ctx.db.fetch_one(select(CLIENT_TABLE).where(CLIENT_TABLE.c.id == client_id))
        if row is None:
            if principal.sees_whole_portfolio:
                raise NotFound(f"{name} does not exist", reason="CLIENT_NOT_FOUND")
            raise denied()
        view = ClientView(
            row.relationship_manager,
            row.team,
            client_message(row, credit_tier=credit_tier(row.credit_grade or None)),
        )
        if cache is not None:
            cache.put(client_id, view)
    if not can_see(principal, view):
        raise denied()
    return view.message


async def load_client(
    session: AsyncSession,
    name: str,
    principal: Principal,
    *,
    field_name: str = "name",
    for_update: bool = False,
) -> ClientRow:
    """Return the named client if the caller may see it.

    Callers without a portfolio-wide role get the same PERMISSION_DENIED for a client that
    exists but is not theirs and for one that does not exist.
    """
    client_id = parse_name(name, CLIENT_NAME_RE, field_name)
    statement = select(ClientRow).where(col(ClientRow.id) == client_id)
    if for_update:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).scalars().first()
    if row is None:
        if principal.sees_whole_portfolio:
            raise NotFound(f"{name} does not exist", reason="CLIENT_NOT_FOUND")
        raise denied()
    if not can_see(principal, row):
        raise denied()
    return row
