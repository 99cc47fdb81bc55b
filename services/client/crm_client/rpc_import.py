"""Bulk import RPCs: ImportClients (a stream of chunks, each answered once committed), GetImport."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import grpc

from crm.client.v1 import client_import_pb2
from crm_client import access
from crm_client.context import ClientContext
from crm_client.importing.ledger import (
    check_creator,
    check_turn,
    import_denied,
    import_message,
    load_run,
    record_chunk,
    recorded_answer,
)
from crm_client.importing.rows import MAX_ROWS_PER_CHUNK, check_rows
from crm_client.importing.writes import credit_codes_taken, store_chunk
from crm_runtime import names
from crm_runtime.auth import Principal, require_roles
from crm_runtime.validation import Violations

IMPORT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{2,62}$")
Request = client_import_pb2.ImportClientsRequest
Response = client_import_pb2.ImportClientsResponse


def _check_request(request: Request) -> None:
    v = Violations()
    if not IMPORT_ID_RE.match(request.import_id):
        v.add("import_id", "must be 3-63 letters, digits or '-'")
    if request.chunk_sequence < 1:
        v.add("chunk_sequence", "must be 1 or more")
    if len(request.rows) > MAX_ROWS_PER_CHUNK:
        v.add("rows", f"at most {MAX_ROWS_PER_CHUNK} per chunk")
    if len(request.source) > 200:
        v.add("source", "must be at most 200 characters")
    v.raise_if_any()


class ImportRpc:
    """ImportClients and GetImport."""

    ctx: ClientContext

    async def ImportClients(  # noqa: N802
        self, request_iterator: AsyncIterator[Request], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Response]:
        """Store each chunk in one transaction with its record; answer it once committed.

        Chunks are taken one at a time, in order: the answer to chunk N is sent before chunk
        N+1 is read, so the last answered chunk is always the import's last committed one.
        """
        principal = require_roles(*access.IMPORT_ROLES)
        async for request in request_iterator:
            # A chunk being written is finished even if the stream goes away meanwhile (the
            # caller gone, the connection aged out): its answer waits in the record, and a
            # write transaction is never abandoned half-way on the store's only connection.
            yield await asyncio.shield(self._import_chunk(request, principal))

    async def _import_chunk(self, request: Request, principal: Principal) -> Response:
        _check_request(request)
        async with self.ctx.db.read() as session:
            answered = await recorded_answer(session, request.import_id, request.chunk_sequence)
            if answered is not None:
                check_creator(await load_run(session, request.import_id), principal)
        if answered is not None:
            return answered
        now = self.ctx.clock()
        # The CPU-bound checks run before the write transaction, so they hold no lock, and in
        # a worker thread: a 5,000-row chunk takes about half a second, which on the event loop
        # would stall every other call to this replica for as long.
        checked = await asyncio.to_thread(check_rows, request.rows, principal, today=now.date())
        async with self.ctx.db.write() as session:
            run = await load_run(session, request.import_id)
            replay = await recorded_answer(session, request.import_id, request.chunk_sequence)
            if replay is not None:
                check_creator(run, principal)
                return replay
            check_turn(run, request.chunk_sequence, principal)
            codes = [good.row.client.credit_code for good in checked.good]
            checked.drop_taken(await credit_codes_taken(session, codes))
            loaded = await store_chunk(
                session, self.ctx, checked.good, actor=principal.subject, now=now
            )
            answer = Response(
                chunk_sequence=request.chunk_sequence,
                loaded_row_count=loaded,
                row_errors=checked.errors,
            )
            await record_chunk(session, run, request, answer, principal=principal, now=now)
        return answer

    async def GetImport(  # noqa: N802
        self, request: client_import_pb2.GetImportRequest, context: grpc.aio.ServicerContext
    ) -> client_import_pb2.Import:
        """Return the import if the caller started it (its last chunk tells where to resume)."""
        principal = require_roles(*access.IMPORT_ROLES)
        import_id = names.parse(request, "name")["import"]
        async with self.ctx.db.read() as session:
            run = await load_run(session, import_id)
        if run is None or run.creator != principal.subject:
            raise import_denied()
        return import_message(run)
