"""The record of an import and of each chunk it committed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.client.v1 import client_import_pb2
from crm_client.models_import import ImportChunkRow, ImportRunRow
from crm_runtime.auth import Principal
from crm_runtime.errors import FailedPrecondition, PermissionDenied


def import_denied() -> PermissionDenied:
    """Return the one error for another caller's import and for one that does not exist."""
    return PermissionDenied("the caller may not access this import", reason="IMPORT_ACCESS_DENIED")


async def load_run(session: AsyncSession, import_id: str) -> ImportRunRow | None:
    """Return the import with this id, if any."""
    return await session.get(ImportRunRow, import_id)


async def recorded_answer(
    session: AsyncSession, import_id: str, sequence: int
) -> client_import_pb2.ImportClientsResponse | None:
    """Return the answer given when this chunk was committed, or None if it was not."""
    body = (
        await session.execute(
            select(col(ImportChunkRow.response)).where(
                col(ImportChunkRow.import_id) == import_id,
                col(ImportChunkRow.chunk_sequence) == sequence,
            )
        )
    ).scalar()
    if body is None:
        return None
    answer = client_import_pb2.ImportClientsResponse.FromString(body)
    answer.already_committed = True
    return answer


def check_creator(run: ImportRunRow | None, principal: Principal) -> None:
    """Refuse a caller other than the one who started the import."""
    if run is not None and run.creator != principal.subject:
        raise import_denied()


def check_turn(run: ImportRunRow | None, sequence: int, principal: Principal) -> None:
    """Refuse a chunk that is not the import's next one, or another caller's chunk."""
    check_creator(run, principal)
    expected = 1 if run is None else run.last_chunk_sequence + 1
    if sequence != expected:
        raise FailedPrecondition(
            f"chunk {sequence} is out of order; the import expects chunk {expected}",
            reason="IMPORT_CHUNK_OUT_OF_ORDER",
        )


async def record_chunk(
    session: AsyncSession,
    run: ImportRunRow | None,
    request: client_import_pb2.ImportClientsRequest,
    answer: client_import_pb2.ImportClientsResponse,
    *,
    principal: Principal,
    now: datetime,
) -> ImportRunRow:
    """Record the committed chunk and advance the import, in the caller's transaction."""
    if run is None:
        run = ImportRunRow(
            id=request.import_id,
            source=request.source[:200],
            creator=principal.subject,
            create_time=now,
            update_time=now,
        )
    run.last_chunk_sequence = request.chunk_sequence
    run.loaded_row_count += answer.loaded_row_count
    run.rejected_row_count += len({error.row_number for error in answer.row_errors})
    run.update_time = now
    session.add(run)
    await session.flush()  # The import's row first: the chunk's row refers to it.
    session.add(
        ImportChunkRow(
            import_id=request.import_id,
            chunk_sequence=request.chunk_sequence,
            response=answer.SerializeToString(),
            commit_time=now,
        )
    )
    return run


def import_message(run: ImportRunRow) -> client_import_pb2.Import:
    """Return the Import resource of a stored import."""
    message = client_import_pb2.Import(
        name=f"imports/{run.id}",
        state=client_import_pb2.Import.STATE_RUNNING,
        last_chunk_sequence=run.last_chunk_sequence,
        loaded_row_count=run.loaded_row_count,
        rejected_row_count=run.rejected_row_count,
        source=run.source,
        creator=run.creator,
    )
    message.create_time.FromDatetime(run.create_time)
    message.update_time.FromDatetime(run.update_time)
    return message
