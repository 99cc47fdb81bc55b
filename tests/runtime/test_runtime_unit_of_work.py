"""The runtime's per-RPC ceremony: one idempotent unit of work, one keyset page, UTC times."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from crm.client.v1 import client_pb2, client_service_pb2
from crm_client.app import MIGRATIONS
from crm_runtime.db import Database
from crm_runtime.errors import InvalidArgument
from crm_runtime.idempotency import mutation
from crm_runtime.migrations import upgrade_head
from crm_runtime.pagination import PageTokens, keyset_page
from crm_runtime.tables import IdempotencyRecord, OutboxMessage

METHOD = "/crm.client.v1.ClientService/CreateClient"


@pytest.fixture
async def database(store_url):
    upgrade_head(MIGRATIONS, store_url)
    db = Database(store_url)
    yield db
    await db.dispose()


def _request(request_id: str, display_name: str = "北京精密机械有限公司"):
    return client_service_pb2.CreateClientRequest(
        client=client_pb2.Client(display_name=display_name), request_id=request_id)


def _outbox_row(event_id: str, when: datetime) -> OutboxMessage:
    return OutboxMessage(event_id=event_id, subscriber="probe", event_type="Probe",
                         envelope=b"", created_time=when)


async def _count(db: Database, table) -> int:
    async with db.read() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


class TestMutation:
    async def test_work_runs_once_and_a_retry_gets_the_first_response(self, database):
        calls: list[str] = []

        async def work(session):
            calls.append("run")
            session.add(_outbox_row(uuid.uuid4().hex, datetime.now(UTC)))
            return client_pb2.Client(name=f"clients/{len(calls)}")

        request = _request(str(uuid.uuid4()))
        first = await mutation(database, request, method=METHOD, subject="staff/a",
                               response_type=client_pb2.Client, work=work)
        again = await mutation(database, request, method=METHOD, subject="staff/a",
                               response_type=client_pb2.Client, work=work)
        assert calls == ["run"]
        assert again == first
        assert await _count(database, OutboxMessage) == 1

    async def test_same_id_other_body_is_refused_with_its_reason(self, database):
        async def work(session):
            return client_pb2.Client(name="clients/x")

        request_id = str(uuid.uuid4())
        await mutation(database, _request(request_id), method=METHOD, subject="staff/a",
                       response_type=client_pb2.Client, work=work)
        with pytest.raises(InvalidArgument) as caught:
            await mutation(database, _request(request_id, "另一家公司"), method=METHOD,
                           subject="staff/a", response_type=client_pb2.Client, work=work)
        assert caught.value.reason == "REQUEST_ID_REUSED"

    async def test_failed_work_leaves_no_change_and_no_record(self, database):
        async def work(session):
            session.add(_outbox_row(uuid.uuid4().hex, datetime.now(UTC)))
            await session.flush()
            raise InvalidArgument.of("client.display_name", "is taken")

        request = _request(str(uuid.uuid4()))
        with pytest.raises(InvalidArgument):
            await mutation(database, request, method=METHOD, subject="staff/a",
                           response_type=client_pb2.Client, work=work)
        assert await _count(database, OutboxMessage) == 0
        assert await _count(database, IdempotencyRecord) == 0

    async def test_request_id_must_be_a_uuid(self, database):
        async def work(session):
            raise AssertionError("must not run")

        with pytest.raises(InvalidArgument):
            await mutation(database, _request("not-a-uuid"), method=METHOD, subject="staff/a",
                           response_type=client_pb2.Client, work=work)


class TestKeysetPage:
    async def _fill(self, db: Database, n: int) -> None:
        start = datetime(2026, 1, 1, tzinfo=UTC)
        async with db.write() as session:
            for i in range(n):
                session.add(_outbox_row(f"e{i:03d}", start + timedelta(minutes=i)))

    @pytest.mark.parametrize("descending", [False, True])
    async def test_pages_cover_every_row_once_in_order(self, database, descending):
        await self._fill(database, 23)
        tokens = PageTokens()
        seen: list[int] = []
        token = ""
        pages = 0
        while True:
            async with database.read() as session:
                page = await keyset_page(
                    session, select(OutboxMessage), key=col(OutboxMessage.id), tokens=tokens,
                    page_token=token, size=5, query={"m": "probe"}, descending=descending)
            seen.extend(row.id for row in page.rows)
            pages += 1
            if not page.next_page_token:
                break
            token = page.next_page_token
        assert pages == 5
        assert seen == sorted(seen, reverse=descending)
        assert len(set(seen)) == 23

    async def test_token_of_another_query_is_refused(self, database):
        await self._fill(database, 3)
        tokens = PageTokens()
        async with database.read() as session:
            page = await keyset_page(session, select(OutboxMessage), key=col(OutboxMessage.id),
                                     tokens=tokens, page_token="", size=1, query={"f": 1})
            with pytest.raises(InvalidArgument):
                await keyset_page(session, select(OutboxMessage), key=col(OutboxMessage.id),
                                  tokens=tokens, page_token=page.next_page_token, size=1,
                                  query={"f": 2})


class TestUtcColumns:
    async def test_times_come_back_aware_in_utc_on_every_store(self, database):
        beijing = timezone(timedelta(hours=8))
        written = datetime(2026, 3, 1, 9, 30, tzinfo=beijing)
        async with database.write() as session:
            session.add(_outbox_row("tz", written))
        async with database.read() as session:
            row = (await session.execute(select(OutboxMessage))).scalars().one()
        assert row.created_time.tzinfo is not None
        assert row.created_time.utcoffset() == timedelta(0)
        assert row.created_time == written

    async def test_a_comparison_uses_utc_whatever_zone_the_bound_value_has(self, database):
        beijing = timezone(timedelta(hours=8))
        async with database.write() as session:
            session.add(_outbox_row("tz", datetime(2026, 3, 1, 1, 30, tzinfo=UTC)))
        cutoff = datetime(2026, 3, 1, 9, 0, tzinfo=beijing)  # 01:00 UTC
        async with database.read() as session:
            later = (await session.execute(
                select(OutboxMessage).where(col(OutboxMessage.created_time) > cutoff)
            )).scalars().all()
        assert [r.event_id for r in later] == ["tz"]
