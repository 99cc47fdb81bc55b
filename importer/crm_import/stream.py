"""Sending a book to ImportClients chunk by chunk and writing what comes back.

Up to `window` chunks are in flight: the next ones are read and sent while the service stores
earlier ones, and the answers (which come in order) are written to the error report and the
progress file as they arrive. The progress file holds the last chunk whose answer is in the
report, so a resumed run neither loses a chunk's errors nor writes them twice.
"""

from __future__ import annotations

import asyncio
import csv
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

import grpc

from crm.client.v1 import client_import_pb2, client_service_pb2_grpc
from crm_import.rows import ParsedRow, read_rows

Metadata = Sequence[tuple[str, str]]
REPORT_HEADER = ("row", "field", "reason")


@dataclass
class Totals:
    """What the run has seen so far."""

    rows: int = 0
    loaded: int = 0
    rejected_rows: set[int] = field(default_factory=set)
    replayed_chunks: int = 0
    reconnects: int = 0
    started: float = field(default_factory=time.monotonic)

    def rate(self) -> float:
        """Rows answered per second since the start of this run."""
        return self.rows / max(time.monotonic() - self.started, 1e-9)


@dataclass
class Plan:
    """One run of an import."""

    path: Path
    import_id: str
    target: str
    metadata: Metadata
    chunk_rows: int = 2000
    window: int = 3
    report: Path = Path("import-errors.csv")
    resume: bool = False
    progress: bool = True
    retries: int = 5


def chunks(rows: Iterator[ParsedRow], size: int, first: int) -> Iterator[list[ParsedRow]]:
    """Group rows by position in the file: chunk k holds rows (k-1)*size+1 .. k*size."""
    batch: list[ParsedRow] = []
    limit = first * size
    for row in rows:
        while row.number > limit:
            if batch:
                yield batch
            batch, limit = [], limit + size
        batch.append(row)
    if batch:
        yield batch


def reported_chunk(report: Path) -> int:
    """Return the last chunk whose answer is in the report (0 when there is none)."""
    try:
        return int(report.with_suffix(report.suffix + ".progress").read_text().strip() or 0)
    except FileNotFoundError:
        return 0


class Reporter:
    """The error report (CSV row, field, reason) and the progress file beside it."""

    def __init__(self, report: Path, *, resume: bool) -> None:
        self.progress_path = report.with_suffix(report.suffix + ".progress")
        fresh = not resume or not report.exists()
        self._file: TextIO = report.open("w" if fresh else "a", encoding="utf-8", newline="")
        self._writer = csv.writer(self._file)
        if fresh:
            self._writer.writerow(REPORT_HEADER)
            self.progress_path.write_text("0\n")

    def write(self, chunk: int, errors: Sequence[tuple[int, str, str]]) -> None:
        """Append a chunk's errors, then record the chunk as reported."""
        self._writer.writerows(errors)
        self._file.flush()
        self.progress_path.write_text(f"{chunk}\n")

    def close(self) -> None:
        """Close the report."""
        self._file.close()


def _request(
    plan: Plan, sequence: int, batch: list[ParsedRow]
) -> tuple[client_import_pb2.ImportClientsRequest, list[tuple[int, str, str]]]:
    local = [
        (row.number, row.problem.field, row.problem.description)
        for row in batch
        if row.problem is not None
    ]
    request = client_import_pb2.ImportClientsRequest(
        import_id=plan.import_id,
        chunk_sequence=sequence,
        rows=[row.message for row in batch if row.message is not None],
        source=f"{plan.path.name}; chunk_rows={plan.chunk_rows}",
    )
    return request, local


async def start_chunk(plan: Plan, stub: client_service_pb2_grpc.ClientServiceStub) -> int:
    """Return the first chunk this run sends (1, or the one after the last reported)."""
    if not plan.resume:
        return 1
    try:
        found = await stub.GetImport(
            client_import_pb2.GetImportRequest(name=f"imports/{plan.import_id}"),
            metadata=plan.metadata,
        )
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.PERMISSION_DENIED:
            return 1  # Nothing was committed under this id (or it is not ours): start over.
        raise
    expected = f"{plan.path.name}; chunk_rows={plan.chunk_rows}"
    if found.source != expected:
        raise SystemExit(
            f"imports/{plan.import_id} was started as {found.source!r}, not {expected!r}"
        )
    reported = reported_chunk(plan.report)
    # Chunks committed but not yet in the report are sent again: the service answers them from
    # its record, without storing them twice.
    return min(int(found.last_chunk_sequence), reported) + 1


# A stream can end without anything being wrong with the import: the service closes
# connections older than its max_connection_age (5 minutes by default, for load balancing),
# restarts, or fails over. The import then continues on a new stream from the record.
RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    }
)


async def run(plan: Plan, totals: Totals) -> None:
    """Send the whole book, reopening the stream (as a resume) after a retryable break."""
    attempt = 0
    while True:
        try:
            await run_once(plan if attempt == 0 else replace(plan, resume=True), totals)
            return
        except grpc.aio.AioRpcError as error:
            if error.code() not in RETRYABLE or attempt >= plan.retries:
                raise
            attempt += 1
            totals.reconnects += 1
            await asyncio.sleep(min(2.0**attempt, 15.0))


async def run_once(plan: Plan, totals: Totals) -> None:
    """Send the book from the first unreported chunk on; return when every chunk is answered."""
    async with grpc.aio.insecure_channel(
        plan.target, options=[("grpc.max_send_message_length", 8 * 1024 * 1024)]
    ) as channel:
        stub = client_service_pb2_grpc.ClientServiceStub(channel)
        first = await start_chunk(plan, stub)
        reporter = Reporter(plan.report, resume=plan.resume)
        try:
            await _stream(plan, stub, first, reporter, totals)
        finally:
            reporter.close()


async def _stream(
    plan: Plan,
    stub: client_service_pb2_grpc.ClientServiceStub,
    first: int,
    reporter: Reporter,
    totals: Totals,
) -> None:
    call = stub.ImportClients(metadata=plan.metadata)
    slots = asyncio.Semaphore(plan.window)
    pending: asyncio.Queue[tuple[int, int, list[tuple[int, str, str]]] | None] = asyncio.Queue()
    rows = read_rows(plan.path, skip=(first - 1) * plan.chunk_rows)

    async def send() -> None:
        for offset, batch in enumerate(chunks(rows, plan.chunk_rows, first)):
            await slots.acquire()
            request, local = _request(plan, first + offset, batch)
            await pending.put((first + offset, len(batch), local))
            await call.write(request)
        await call.done_writing()
        await pending.put(None)

    sender = asyncio.create_task(send())
    try:
        while (item := await pending.get()) is not None:
            sequence, size, local = item
            answer = await call.read()
            if answer is grpc.aio.EOF:
                raise RuntimeError(f"the service closed the stream before chunk {sequence}")
            assert answer.chunk_sequence == sequence, (answer.chunk_sequence, sequence)
            errors = local + [(e.row_number, e.field, e.description) for e in answer.row_errors]
            errors.sort()
            reporter.write(sequence, errors)
            totals.rows += size
            totals.loaded += answer.loaded_row_count
            totals.rejected_rows.update(row for row, _, _ in errors)
            totals.replayed_chunks += answer.already_committed
            slots.release()
            if plan.progress:
                _show(totals)
        await sender
    finally:
        sender.cancel()


def _show(totals: Totals) -> None:
    print(
        f"\r{totals.rows:>10,} rows  {totals.loaded:>10,} loaded  "
        f"{len(totals.rejected_rows):>8,} refused  {totals.rate():>7,.0f} rows/s",
        end="",
        flush=True,
        file=sys.stderr,
    )
