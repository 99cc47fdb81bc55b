"""request_id idempotency on both backends: replay, reuse with another body, expiry."""

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
from crm_runtime.idempotency import (
    RETENTION,
    check_request_id,
    fingerprint,
    purge_expired,
    remember,
    replay,
)
from crm_runtime.migrations import upgrade_head
from crm_runtime.tables import IdempotencyRecord

METHOD = "/crm.client.v1.ClientService/CreateClient"
SUBJECT = "staff/rm-a"


def _request(request_id: str, display_name: str = "北京精密机械有限公司"):
    return client_service_pb2.CreateClientRequest(
        client=client_pb2.Client(display_name=display_name, credit_code="91110108MA01B2C344"),
        request_id=request_id)


def _response(name: str = "clients/abc") -> client_pb2.Client:
    return client_pb2.Client(name=name, display_name="北京精密机械有限公司", etag="e1")


@pytest.fixture
async def database(store_url):
    """A store migrated with the client service's migrations (runtime tables included)."""
    upgrade_head(MIGRATIONS, store_url)
    db = Database(store_url)
    yield db
    await db.dispose()


async def _replay(db: Database, request, *, subject: str = SUBJECT, method: str = METHOD):
    async with db.read() as session:
        return await replay(session, method=method, request=request, subject=subject,
                            response_type=client_pb2.Client)


async def _remember(db: Database, request, response, *, method: str = METHOD) -> None:
    async with db.write() as session:
        await remember(session, method=method, request=request, subject=SUBJECT,
                       response=response)


async def _count(db: Database) -> int:
    async with db.read() as session:
        return int((await session.execute(
            select(func.count()).select_from(IdempotencyRecord))).scalar_one())


class TestReplay:
    async def test_first_call_then_replay(self, database):
        """A new request_id replays nothing; after remember, the stored response comes back."""
        request = _request(str(uuid.uuid4()))
        assert await _replay(database, request) is None
        await _remember(database, request, _response())
        again = await _replay(database, request)
        assert again == _response()
        assert await _count(database) == 1

    async def test_different_body_is_rejected(self, database):
        """The same request_id with another body is INVALID_ARGUMENT REQUEST_ID_REUSED."""
        request_id = str(uuid.uuid4())
        await _remember(database, _request(request_id), _response())
        with pytest.raises(InvalidArgument) as caught:
            await _replay(database, _request(request_id, display_name="另一家公司"))
        assert caught.value.reason == "REQUEST_ID_REUSED"
        assert [v.field for v in caught.value.violations] == ["request_id"]

    async def test_other_caller_cannot_replay(self, database):
        """Another caller reusing someone's request_id does not get their response."""
        request = _request(str(uuid.uuid4()))
        await _remember(database, request, _response())
        with pytest.raises(InvalidArgument) as caught:
            await _replay(database, request, subject="staff/rm-b")
        assert caught.value.reason == "REQUEST_ID_REUSED"

    async def test_ids_are_per_method(self, database):
        """A request_id used on one method is new on another."""
        request = _request(str(uuid.uuid4()))
        await _remember(database, request, _response())
        assert await _replay(database, request, method="/crm.client.v1.ClientService/Other") is None

    async def test_without_request_id_nothing_is_stored(self, database):
        """Requests without a request_id are neither replayed nor remembered."""
        request = _request("")
        await _remember(database, request, _response())
        assert await _replay(database, request) is None
        assert await _count(database) == 0

    async def test_request_id_must_be_uuid(self, database):
        """A request_id that is not a UUID is INVALID_ARGUMENT on request_id."""
        with pytest.raises(InvalidArgument) as caught:
            await _replay(database, _request("not-a-uuid"))
        assert [v.field for v in caught.value.violations] == ["request_id"]


class TestPurge:
    async def _insert(self, db: Database, created: datetime) -> str:
        request_id = str(uuid.uuid4())
        request = _request(request_id)
        async with db.write() as session:
            session.add(IdempotencyRecord(
                method=METHOD, request_id=request_id, fingerprint=fingerprint(request, SUBJECT),
                response=_response().SerializeToString(), created_time=created))
        return request_id

    async def _left(self, db: Database) -> set[str]:
        async with db.read() as session:
            rows = (await session.execute(select(col(IdempotencyRecord.request_id)))).all()
        return {r[0] for r in rows}

    async def test_removes_only_expired(self, database):
        """Rows older than the retention go; younger rows stay."""
        now = datetime.now(UTC)
        old = await self._insert(database, now - RETENTION - timedelta(hours=1))
        older = await self._insert(database, now - timedelta(days=30))
        young = await self._insert(database, now - RETENTION + timedelta(minutes=5))
        fresh = await self._insert(database, now)
        async with database.write() as session:
            removed = await purge_expired(session, now=now)
        assert removed == 2
        assert await self._left(database) == {young, fresh}
        assert old not in await self._left(database)
        assert older not in await self._left(database)

    async def test_now_in_another_timezone(self, database):
        """The cutoff is a moment in time, whatever timezone `now` is written in."""
        now = datetime.now(UTC)
        young = await self._insert(database, now - RETENTION + timedelta(hours=2))
        old = await self._insert(database, now - RETENTION - timedelta(hours=2))
        beijing = now.astimezone(timezone(timedelta(hours=8)))
        async with database.write() as session:
            removed = await purge_expired(session, now=beijing)
        assert removed == 1
        assert await self._left(database) == {young}
        assert old not in await self._left(database)


class TestFingerprint:
    def test_ignores_request_id(self):
        """Retries carry the same request_id but the fingerprint ignores it anyway."""
        assert fingerprint(_request(str(uuid.uuid4())), SUBJECT) == fingerprint(
            _request(str(uuid.uuid4())), SUBJECT)

    def test_depends_on_body_and_caller(self):
        """Another body or another caller gives another fingerprint."""
        base = fingerprint(_request(""), SUBJECT)
        assert fingerprint(_request("", display_name="x"), SUBJECT) != base
        assert fingerprint(_request(""), "staff/rm-b") != base

    def test_does_not_modify_request(self):
        """Fingerprinting leaves the caller's message untouched."""
        request_id = str(uuid.uuid4())
        request = _request(request_id)
        fingerprint(request, SUBJECT)
        assert request.request_id == request_id

    def test_check_request_id(self):
        """Empty and UUID ids pass; anything else is INVALID_ARGUMENT."""
        check_request_id("")
        check_request_id(str(uuid.uuid4()))
        for bad in ("1", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", "' OR 1=1 --"):
            with pytest.raises(InvalidArgument):
                check_request_id(bad)
