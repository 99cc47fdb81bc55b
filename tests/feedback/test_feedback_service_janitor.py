"""The kit's janitor runs in the feedback service: old idempotency records and delivered
outbox rows are purged while the service runs, recent and pending ones stay."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

from feedback_harness import feedback_service, new_request_id, nps_csat_survey
from sqlmodel import col, select

from crm.feedback.v1 import feedback_service_pb2
from crm_feedback import app
from crm_runtime.tables import IdempotencyRecord, OutboxMessage


async def _survey(h, survey_id: str) -> None:
    await h.stub.CreateSurvey(
        feedback_service_pb2.CreateSurveyRequest(
            survey=nps_csat_survey(), survey_id=survey_id, request_id=new_request_id()
        ),
        metadata=h.ops(),
    )


def _outbox_row(event_id: str, delivered: datetime | None) -> OutboxMessage:
    return OutboxMessage(
        event_id=event_id, subscriber="notify", event_type="test.Event", envelope=b"",
        created_time=datetime.now(UTC) - timedelta(days=10), delivered_time=delivered,
    )


async def test_running_service_purges_expired_records_and_old_deliveries(
    store_url, identity, monkeypatch
):
    # The spec's janitor interval is an hour; a test cannot wait that long.
    monkeypatch.setattr(app, "SPEC", dataclasses.replace(app.SPEC, janitor_interval_seconds=0.1))
    async with feedback_service(store_url, identity) as h:
        await _survey(h, "expired")
        await _survey(h, "recent")
        long_ago = datetime.now(UTC) - timedelta(days=8)
        async with h.ctx.db.write() as session:
            first = (
                await session.execute(
                    select(IdempotencyRecord).order_by(col(IdempotencyRecord.created_time))
                )
            ).scalars().first()
            assert first is not None
            # Older than the 24 h retention: the janitor's to purge.
            first.created_time = datetime.now(UTC) - timedelta(days=2)
            session.add(first)
            session.add(_outbox_row("delivered-long-ago", long_ago))
            session.add(_outbox_row("pending", None))
        for _ in range(100):
            async with h.ctx.db.read() as session:
                records = len((await session.execute(select(IdempotencyRecord))).all())
                event_ids = set(
                    (await session.execute(select(col(OutboxMessage.event_id)))).scalars()
                )
            if records == 1 and "delivered-long-ago" not in event_ids:
                break
            await asyncio.sleep(0.05)
    assert records == 1
    assert "delivered-long-ago" not in event_ids
    assert "pending" in event_ids
