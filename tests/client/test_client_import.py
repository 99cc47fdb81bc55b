"""Bulk import against a real client service process: bad rows, kill -9 and resume, replays."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from client_harness import ClientHarness, client_service
from import_support import importer, make_book, report, scalar, service
from sqlalchemy import func, select
from sqlalchemy import table as sql_table

from crm.client.v1 import client_import_pb2, client_service_pb2, client_service_pb2_grpc
from crm_import.rows import read_rows
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit

pytestmark = pytest.mark.process
SERVICE = "crm.client.v1.ClientService"


async def _bad_rows_case(tmp_path: Path, rows: int, chunk_rows: int) -> None:
    kit = IdentityKit.create(tmp_path / "identity")
    process = service(tmp_path, kit)
    process.start()
    try:
        book = tmp_path / "book.csv"
        spoiled = make_book(book, rows, bad_percent=1.0)
        await process.wait_serving(SERVICE)
        run = importer(book, process.address, kit, "--chunk-rows", str(chunk_rows))
        out, err = await asyncio.to_thread(run.communicate, timeout=120)
        assert run.returncode == 0, err.decode()
    finally:
        process.terminate()
    assert len(spoiled) >= rows // 100
    _assert_report_names_each_spoiled_field(book, spoiled)
    db = tmp_path / "client.db"
    assert scalar(db, "SELECT count(*) FROM client") == rows - len(spoiled)
    assert scalar(db, "SELECT count(DISTINCT credit_code) FROM client") == rows - len(spoiled)
    assert scalar(db, "SELECT loaded_row_count FROM client_import") == rows - len(spoiled)
    assert scalar(db, "SELECT count(*) FROM key_person WHERE name_enc IS NULL") == 0
    assert scalar(db, "SELECT count(*) FROM key_person WHERE id_number_index = ''") == 0
    assert b"loaded" in out


@pytest.mark.chaos
async def test_a_larger_book_with_one_percent_bad_rows(tmp_path: Path) -> None:
    await _bad_rows_case(tmp_path, 10_000, 2000)


def _assert_report_names_each_spoiled_field(book: Path, spoiled: dict[int, str]) -> None:
    found = report(book)
    assert len(found) == len(set(found)), "a problem reported twice"
    fields_of: dict[int, set[str]] = {}
    for row, field, reason in found:
        assert reason, (row, field)
        fields_of.setdefault(row, set()).add(field)
    # Every spoiled row is refused, naming the field that was spoiled; no good row is refused.
    assert set(fields_of) == set(spoiled)
    for row, field in spoiled.items():
        assert field in fields_of[row], (row, field, fields_of[row])


async def _kill_case(
    tmp_path: Path,
    rows: int,
    chunk_rows: int,
    kill_after: int,
    *,
    bad_percent: float = 0.0,
    book_name: str = "book.jsonl",
) -> None:
    kit = IdentityKit.create(tmp_path / "identity")
    process = service(tmp_path, kit)
    process.start()
    book = tmp_path / book_name
    spoiled = make_book(book, rows, bad_percent=bad_percent)
    good = rows - len(spoiled)
    chunks = rows // chunk_rows
    progress = book.with_name(book.name + ".errors.csv.progress")
    await process.wait_serving(SERVICE)
    size = str(chunk_rows)
    first = importer(
        book, process.address, kit, "--chunk-rows", size, "--window", "2", "--retries", "0"
    )

    def answered() -> int:
        text = progress.read_text().strip() if progress.exists() else ""
        return int(text or 0)

    while answered() < kill_after and first.poll() is None:  # noqa: ASYNC110 - a file, no event
        await asyncio.sleep(0.05)
    process.kill()
    _, err = await asyncio.to_thread(first.communicate, timeout=60)
    assert first.returncode == 1, err.decode()
    assert b"--resume" in err
    db = tmp_path / "client.db"
    stored_at_kill = scalar(db, "SELECT count(*) FROM client")
    assert kill_after * chunk_rows - len(spoiled) <= stored_at_kill < good
    process.start()
    await process.wait_serving(SERVICE)
    second = importer(book, process.address, kit, "--chunk-rows", size, "--resume")
    _, err = await asyncio.to_thread(second.communicate, timeout=120)
    process.terminate()
    assert second.returncode == 0, err.decode()
    assert scalar(db, "SELECT count(*) FROM client") == good
    assert scalar(db, "SELECT count(DISTINCT credit_code) FROM client") == good
    assert scalar(db, "SELECT count(*) FROM client_import_chunk") == chunks
    assert scalar(db, "SELECT last_chunk_sequence FROM client_import") == chunks
    assert scalar(db, "SELECT loaded_row_count FROM client_import") == good
    assert scalar(db, "SELECT count(*) FROM assignment") == good
    assert scalar(db, "SELECT count(*) FROM key_person WHERE name_enc IS NULL") == 0
    assert scalar(db, "SELECT count(*) FROM key_person WHERE id_number_index = ''") == 0
    _assert_report_names_each_spoiled_field(book, spoiled)


async def test_a_book_with_bad_rows_killed_mid_import_resumes_to_exactly_its_good_rows(
    tmp_path: Path,
) -> None:
    """The default suite's one real-process import: 1 % bad rows, kill -9, resume."""
    await _kill_case(tmp_path, 1000, 100, kill_after=3, bad_percent=1.0, book_name="book.csv")


@pytest.mark.chaos
async def test_a_larger_book_killed_mid_import_resumes_exactly(tmp_path: Path) -> None:
    await _kill_case(tmp_path, 20_000, 1000, kill_after=8)


def _chunk(book: Path, sequence: int, size: int) -> client_import_pb2.ImportClientsRequest:
    rows = [r.message for r in read_rows(book, skip=(sequence - 1) * size)][:size]
    return client_import_pb2.ImportClientsRequest(
        import_id="replayed", chunk_sequence=sequence, rows=rows, source="book.jsonl"
    )


async def _send(
    stub: client_service_pb2_grpc.ClientServiceStub,
    metadata: tuple[tuple[str, str], ...],
    *requests: client_import_pb2.ImportClientsRequest,
) -> list[client_import_pb2.ImportClientsResponse]:
    return [answer async for answer in stub.ImportClients(iter(requests), metadata=metadata)]


async def _count(harness: ClientHarness, table: str) -> int:
    async with harness.ctx.db.read() as session:
        counted = await session.execute(select(func.count()).select_from(sql_table(table)))
        return int(counted.scalar_one())


async def test_a_committed_chunk_sent_again_is_answered_from_the_record_and_not_applied(
    store_url: str, identity: IdentityKit, tmp_path: Path
) -> None:
    book = tmp_path / "book.jsonl"
    make_book(book, 60)
    system = identity.metadata("systems/book-migration", Role.SYSTEM)
    subscribers = "risk=127.0.0.1:9,notify=127.0.0.1:9"  # Outbox rows are written for both.
    async with client_service(store_url, identity, subscribers=subscribers) as harness:
        stub = harness.stub
        first, second = await _send(stub, system, _chunk(book, 1, 30), _chunk(book, 2, 30))
        assert (first.loaded_row_count, second.loaded_row_count) == (30, 30)
        assert not first.already_committed and not first.row_errors
        outbox = await _count(harness, "outbox_message")
        assert outbox >= 60 * 2  # ClientCreated for each subscriber (and segment joins)
        [again] = await _send(stub, system, _chunk(book, 1, 30))
        assert again.already_committed and again.loaded_row_count == 30
        assert await _count(harness, "client") == 60
        assert await _count(harness, "key_person") >= 60
        assert await _count(harness, "outbox_message") == outbox
        found = await stub.GetImport(
            client_import_pb2.GetImportRequest(name="imports/replayed"), metadata=system
        )
        assert (found.last_chunk_sequence, found.loaded_row_count) == (2, 60)
        gap = client_import_pb2.ImportClientsRequest(import_id="replayed", chunk_sequence=4)
        with pytest.raises(grpc.aio.AioRpcError) as skipped:
            await _send(stub, system, gap)
        assert skipped.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        other = identity.metadata("systems/someone-else", Role.SYSTEM)
        with pytest.raises(grpc.aio.AioRpcError) as foreign:
            await _send(stub, other, _chunk(book, 1, 30))
        assert foreign.value.code() == grpc.StatusCode.PERMISSION_DENIED
        rm = identity.metadata("staff/rm-a", Role.RELATIONSHIP_MANAGER)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _send(stub, rm, _chunk(book, 3, 30))
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # A client the import stored reads back like one CreateClient stored.
        stored = await stub.ListClients(
            client_service_pb2.ListClientsRequest(page_size=5), metadata=system
        )
        assert len(stored.clients) == 5 and stored.clients[0].size_class
