"""Stored activity summaries: one row per client and period, replaced when sent again."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.client.v1 import client_pb2
from crm_client.models import ActivityRow, ClientRow
from crm_client.validation import to_date
from crm_runtime.wire import money_to_decimal


async def upsert_activity(
    session: AsyncSession, client: ClientRow, summary: client_pb2.ActivitySummary
) -> None:
    """Store a validated summary, overwriting an earlier one for the same period."""
    start, end = to_date(summary.period_start), to_date(summary.period_end)
    assert start is not None and end is not None  # The handler validated the period.
    statement = select(ActivityRow).where(
        col(ActivityRow.client_seq) == client.seq,
        col(ActivityRow.period_start) == start,
        col(ActivityRow.period_end) == end,
    )
    existing = (await session.execute(statement)).scalars().first()
    row = existing or ActivityRow(client_seq=client.seq or 0, period_start=start, period_end=end)
    row.transaction_count = summary.transaction_count
    row.inflow = money_to_decimal(summary.inflow)
    row.outflow = money_to_decimal(summary.outflow)
    row.average_balance = money_to_decimal(summary.average_balance)
    row.end_balance = money_to_decimal(summary.end_balance)
    row.products_used = summary.products_used
    row.loan_products_used = summary.loan_products_used
    row.last_transaction_date = to_date(summary.last_transaction_date)
    session.add(row)
