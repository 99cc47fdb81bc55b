"""The book's committed exposure per concentration key, kept as running totals.

Every new facility adds its CNY amount to the totals of its client, group, industry section,
province and the whole book, and a client that moves group, industry or region moves its total
with it, inside the same transaction. A new facility's limits are then checked from five rows
instead of the whole book (registration costs the same with 100 or 100,000 facilities). The
what-if of a proposed facility reads the same rows, and the concentration report reads one
row per client (``store.load_holdings``) instead of summing every facility.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import Table, and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from crm_risk.concentration.model import Dimension
from crm_risk.models import ClientFactRow, ExposureTotalRow

TOTALS: Table = ExposureTotalRow.__table__  # type: ignore[attr-defined]
BOOK = "book"
Key = tuple[str, str]  # (dimension or "book", key)


def placement(fact: ClientFactRow | None) -> dict[Dimension, str]:
    """Return the group, industry section and province a client's exposure counts against."""
    if fact is None:
        return {"group": "", "industry": "", "region": ""}
    region = fact.region_code
    return {
        "group": fact.group_name,
        "industry": fact.industry_code[:1].upper(),
        "region": region[:2] if len(region) >= 2 else "",
    }


def keys_for(client_id: str, where: dict[Dimension, str]) -> list[Key]:
    """Return every totals key a client's exposure counts in (unknown keys left out)."""
    keys: list[Key] = [(BOOK, ""), ("client", client_id)]
    keys += [(dimension, key) for dimension, key in where.items() if key]
    return keys


async def add(session: AsyncSession, keys: Iterable[Key], amount: Decimal) -> None:
    """Add ``amount`` (CNY, may be negative) to the totals of ``keys``."""
    if amount != 0:
        await add_amounts(session, dict.fromkeys(keys, amount))


async def add_amounts(session: AsyncSession, amounts: dict[Key, Decimal]) -> None:
    """Add each key's amount (CNY, may be negative) to its total, in one statement."""
    rows = [{"dimension": d, "key": k, "amount_cny": amount}
            for (d, k), amount in amounts.items() if amount != 0]
    if not rows:
        return
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert(TOTALS) if dialect == "postgresql" else sqlite.insert(TOTALS)
    statement = insert.on_conflict_do_update(
        index_elements=[TOTALS.c.dimension, TOTALS.c.key],
        set_={"amount_cny": TOTALS.c.amount_cny + insert.excluded.amount_cny},
    )
    await session.execute(statement, rows)


async def read(session: AsyncSession, keys: Iterable[Key]) -> dict[Key, Decimal]:
    """Return the totals of ``keys`` (missing keys are zero)."""
    wanted = list(keys)
    found = {key: Decimal(0) for key in wanted}
    by_dimension: dict[str, list[str]] = {}
    for dimension, key in wanted:
        by_dimension.setdefault(dimension, []).append(key)
    # One IN list per dimension: both stores then seek the primary key for each value (a
    # row-value IN over (dimension, key) made SQLite scan the table, a cost that grew with
    # the book).
    rows = await session.execute(
        select(TOTALS.c.dimension, TOTALS.c.key, TOTALS.c.amount_cny).where(or_(*(
            and_(TOTALS.c.dimension == dimension, TOTALS.c.key.in_(keys))
            for dimension, keys in by_dimension.items()
        )))
    )
    for dimension, key, amount in rows:
        found[(dimension, key)] = Decimal(amount)
    return found


async def move_client(
    session: AsyncSession, client_id: str, before: dict[Dimension, str],
    after: dict[Dimension, str],
) -> None:
    """Move a client's exposure from its old group / industry / region keys to the new ones."""
    changed = {d for d in before if before[d] != after.get(d, "")}
    if not changed:
        return
    amount = (await read(session, [("client", client_id)]))[("client", client_id)]
    if amount == 0:
        return
    await add(session, [(d, before[d]) for d in changed if before[d]], -amount)
    await add(session, [(d, after[d]) for d in changed if after.get(d)], amount)
