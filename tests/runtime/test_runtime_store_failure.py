"""A store that cannot be reached answers a retryable status, not INTERNAL (the chaos suite's
PostgreSQL restart found RPCs answering INTERNAL while the server came back)."""

from __future__ import annotations

import sqlite3

import grpc
import pytest
from google.protobuf import wrappers_pb2
from google.rpc import error_details_pb2
from runtime_probe_server import call, error_info, probe_service, rich_status, unary_method
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from crm_runtime import testing
from crm_runtime.auth import Role
from crm_runtime.errors import Unavailable
from crm_runtime.storefailure import store_failure

Value = wrappers_pb2.StringValue


def _retry_info(error: grpc.aio.AioRpcError) -> error_details_pb2.RetryInfo | None:
    for detail in rich_status(error).details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return info
    return None


async def _refused(request: Value, context: grpc.aio.ServicerContext) -> Value:
    """Query a PostgreSQL URL on a port where nothing listens (a server that is down)."""
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{testing.free_port()}/crm"
    engine = create_async_engine(url, pool_pre_ping=True)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    return Value(value="unreachable")


async def _cut_mid_transaction(request: Value, context: grpc.aio.ServicerContext) -> Value:
    """Open a transaction, have the server terminate this very backend, then use it again."""
    import asyncpg

    # The admin database will do: nothing is written, and only this backend is terminated.
    url = testing.postgres_admin_url().replace("postgresql://", "postgresql+asyncpg://", 1)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            admin = await asyncpg.connect(testing.postgres_admin_url())
            try:
                await admin.execute("SELECT pg_terminate_backend($1)", pid)
            finally:
                await admin.close()
            await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    return Value(value="unreachable")


@pytest.fixture
async def channel(sqlite_url, identity):
    methods = {"Refused": unary_method(_refused), "Cut": unary_method(_cut_mid_transaction)}
    async with probe_service(methods, database_url=sqlite_url, trusted_keys=identity.directory,
                             name="probe") as running, \
            grpc.aio.insecure_channel(running.address) as chan:
        yield chan


async def _error(channel, method: str, identity) -> grpc.aio.AioRpcError:
    metadata = identity.metadata("staff/rm-a", Role.RELATIONSHIP_MANAGER)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(channel, method)(Value(), metadata=metadata, timeout=20)
    return caught.value


async def test_unreachable_store_is_unavailable_with_retry_info(channel, identity):
    """Connection refused: nothing was done, so UNAVAILABLE STORE_UNAVAILABLE with RetryInfo."""
    error = await _error(channel, "Refused", identity)
    assert error.code() is grpc.StatusCode.UNAVAILABLE
    assert error_info(error).reason == "STORE_UNAVAILABLE"
    assert _retry_info(error) is not None
    assert "Connection refused" not in (error.details() or "")


@pytest.mark.postgres
async def test_connection_lost_mid_transaction_is_aborted(channel, identity):
    """The backend dies mid-transaction: outcome unknown, so ABORTED STORE_CONNECTION_LOST."""
    if not await testing.postgres_available():
        pytest.skip("PostgreSQL not available")
    error = await _error(channel, "Cut", identity)
    assert error.code() is grpc.StatusCode.ABORTED
    assert error_info(error).reason == "STORE_CONNECTION_LOST"
    assert _retry_info(error) is not None


def test_a_busy_sqlite_writer_is_unavailable_not_internal():
    """SQLite's writer busy past the busy timeout (BEGIN IMMEDIATE refused: nothing was done)
    is retryable UNAVAILABLE `STORE_BUSY`, not INTERNAL."""
    error = OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))
    mapped = store_failure(error)
    assert isinstance(mapped, Unavailable)
    assert mapped.reason == "STORE_BUSY"
    assert store_failure(OperationalError("SELECT", {}, sqlite3.OperationalError("no such table")))\
        is None
