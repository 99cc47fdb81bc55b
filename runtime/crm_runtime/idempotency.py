"""request_id handling for mutating calls (AIP-155).

The first response is stored in the same transaction as the mutation, so a retry after a lost
reply gets exactly that response and causes no second change. The same id with a different
request body is INVALID_ARGUMENT.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from google.protobuf.message import Message
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_runtime.db import Database
from crm_runtime.errors import InvalidArgument
from crm_runtime.tables import IdempotencyRecord

M = TypeVar("M", bound=Message)

RETENTION = timedelta(hours=24)


def check_request_id(request_id: str, *, field: str = "request_id") -> None:
    """Reject a request_id that is not a UUID (empty means no idempotency)."""
    if not request_id:
        return
    try:
        uuid.UUID(request_id)
    except ValueError as exc:
        raise InvalidArgument.of(field, "must be a UUID") from exc


def fingerprint(request: Message, subject: str) -> str:
    """Return a stable hash of a request (without its request_id) and its caller."""
    copy = type(request)()
    copy.CopyFrom(request)
    if copy.DESCRIPTOR.fields_by_name.get("request_id") is not None:
        copy.ClearField("request_id")
    digest = hashlib.sha256(subject.encode())
    digest.update(copy.SerializeToString(deterministic=True))
    return digest.hexdigest()


async def replay(
    session: AsyncSession, *, method: str, request: Message, subject: str, response_type: type[M]
) -> M | None:
    """Return the stored response for a repeated request_id, or None for a new one."""
    request_id = str(getattr(request, "request_id", ""))
    if not request_id:
        return None
    check_request_id(request_id)
    record = await session.get(IdempotencyRecord, (method, request_id))
    if record is None:
        return None
    if record.fingerprint != fingerprint(request, subject):
        raise InvalidArgument.of(
            "request_id", "was already used with a different request", reason="REQUEST_ID_REUSED"
        )
    response = response_type()
    response.ParseFromString(record.response)
    return response


async def remember(
    session: AsyncSession, *, method: str, request: Message, subject: str, response: Message
) -> None:
    """Store the response of a request that carried a request_id."""
    request_id = str(getattr(request, "request_id", ""))
    if not request_id:
        return
    session.add(
        IdempotencyRecord(
            method=method,
            request_id=request_id,
            fingerprint=fingerprint(request, subject),
            response=response.SerializeToString(),
            created_time=datetime.now(UTC),
        )
    )


async def mutation(
    database: Database,
    request: Message,
    *,
    method: str,
    subject: str,
    response_type: type[M],
    work: Callable[[AsyncSession], Awaitable[M]],
) -> M:
    """Run one idempotent unit of work: replay, run, remember, all in one write transaction.

    `work` does the change and adds its events to the outbox in the session it is given, so
    the change, its events and the remembered response commit together or not at all. A
    repeated request_id returns the first response without calling `work`; the same id with
    another request body is INVALID_ARGUMENT (reason REQUEST_ID_REUSED).
    """
    check_request_id(str(getattr(request, "request_id", "")))
    async with database.write() as session:
        replayed = await replay(
            session, method=method, request=request, subject=subject, response_type=response_type
        )
        if replayed is not None:
            return replayed
        response = await work(session)
        await remember(session, method=method, request=request, subject=subject, response=response)
        return response


async def purge_expired(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Delete records older than the retention period; return how many."""
    # SQLite stores timestamps as UTC text without an offset, so compare in UTC there too.
    cutoff = (now or datetime.now(UTC)).astimezone(UTC) - RETENTION
    result = await session.execute(
        delete(IdempotencyRecord).where(col(IdempotencyRecord.created_time) < cutoff)
    )
    return int(getattr(result, "rowcount", 0) or 0)
