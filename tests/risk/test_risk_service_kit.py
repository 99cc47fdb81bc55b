"""The risk service on the kit: its janitor runs; only its own process defers full collections."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
from datetime import UTC, datetime, timedelta

import pytest
from risk_harness import risk_service
from sqlmodel import col, select

from crm_risk import app
from crm_runtime import kit
from crm_runtime.gcsteward import NEVER
from crm_runtime.idempotency import RETENTION
from crm_runtime.outbox_relay import DELIVERED_RETENTION
from crm_runtime.tables import IdempotencyRecord, OutboxMessage
from crm_runtime.testing import pii_env


def _record(request_id: str, created: datetime) -> IdempotencyRecord:
    return IdempotencyRecord(method="/crm.risk.v1.RiskService/CreateFacility",
                             request_id=request_id, fingerprint="f", response=b"",
                             created_time=created)


def _delivered(event_id: str, delivered: datetime) -> OutboxMessage:
    return OutboxMessage(event_id=event_id, subscriber="notify", event_type="t", envelope=b"",
                         created_time=delivered, delivered_time=delivered)


async def test_the_janitor_purges_expired_records_and_long_delivered_rows(
    store_url, identity, monkeypatch: pytest.MonkeyPatch
):
    # The same spec with a janitor that wakes every 50 ms instead of every hour.
    monkeypatch.setattr(app, "SPEC", dataclasses.replace(app.SPEC, janitor_interval_seconds=0.05))
    async with risk_service(store_url, identity) as h:
        now = datetime.now(UTC)
        async with h.ctx.db.write() as session:
            session.add_all([
                _record("expired", now - RETENTION - timedelta(minutes=5)),
                _record("fresh", now - timedelta(minutes=5)),
                _delivered("long-ago", now - DELIVERED_RETENTION - timedelta(hours=1)),
                _delivered("recent", now - timedelta(hours=1)),
            ])
        for _ in range(100):
            await asyncio.sleep(0.05)
            async with h.ctx.db.read() as session:
                records = (await session.execute(
                    select(col(IdempotencyRecord.request_id)))).scalars().all()
                rows = (await session.execute(select(col(OutboxMessage.event_id)))).scalars().all()
            if "expired" not in records and "long-ago" not in rows:
                break
        assert sorted(records) == ["fresh"]
        assert sorted(rows) == ["recent"]


async def test_building_the_service_in_process_neither_freezes_nor_defers_collections(
    sqlite_url, identity
):
    # Deferring full passes is for the service's own process (kit.main → prepare_process);
    # gc.freeze() made CPython's full passes more frequent (docs/ARCHITECTURE.md) and is gone.
    thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()
    async with risk_service(sqlite_url, identity) as h:
        assert gc.get_threshold() == thresholds
        assert gc.get_freeze_count() == frozen
    assert app.SPEC.prepare_process is not None
    try:
        app.SPEC.prepare_process(h.settings)
        assert gc.get_threshold()[2] == NEVER
    finally:
        gc.set_threshold(*thresholds)


def test_kit_main_prepares_the_process_before_it_serves(monkeypatch: pytest.MonkeyPatch):
    order: list[str] = []
    for name, value in pii_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MIGRATE_ON_START", "0")
    monkeypatch.setattr(kit, "run", lambda definition: order.append("serve"))
    kit.main(dataclasses.replace(app.SPEC, prepare_process=lambda settings: order.append(
        f"prepare {settings.service_name}")))
    assert order == ["prepare risk", "serve"]
