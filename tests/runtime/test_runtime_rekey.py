"""Re-encryption onto the active key: counts per key id, batches, concurrent writes, retirement.

Runs against real stores (SQLite and PostgreSQL): the key id is read from the ciphertext's
header in SQL, which each backend must do alike.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import Integer, LargeBinary, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from crm_runtime.crypto import FieldCipher, ciphertext_key_id
from crm_runtime.db import Database
from crm_runtime.keyring import Keyring
from crm_runtime.rekey import (
    UNKNOWN,
    EncryptedTable,
    RekeyProgress,
    _rewrite,
    key_status,
    reencrypt_pass,
    rekeyer,
)

K1, K2, INDEX = os.urandom(32), os.urandom(32), os.urandom(32)
ROWS = 25


class Base(DeclarativeBase):
    pass


class Probe(Base):
    __tablename__ = "rekey_probe"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    note_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


TABLE = EncryptedTable(Probe, "seq", {"secret_enc": "probe.secret", "note_enc": "probe.note"})
UNDER_K1 = FieldCipher(Keyring({"k1": K1}, "k1"), INDEX)
ROTATED = FieldCipher(Keyring({"k1": K1, "k2": K2}, "k2"), INDEX)
RETIRED = FieldCipher(Keyring({"k2": K2}, "k2"), INDEX)


async def _seeded(url: str) -> Database:
    db = Database(url)
    async with db.write_engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with db.write() as session:
        for n in range(1, ROWS + 1):
            note = UNDER_K1.encrypt(f"note {n}", context="probe.note") if n % 2 else None
            session.add(Probe(seq=n, secret_enc=UNDER_K1.encrypt(f"secret {n}",
                                                                 context="probe.secret"),
                              note_enc=note))
    return db


@pytest.fixture
async def database(store_url):
    """Both backends, for the end-to-end pass: the SQL that reads key ids must work on each."""
    db = await _seeded(store_url)
    yield db
    await db.dispose()


@pytest.fixture
async def sqlite_database(sqlite_url):
    """SQLite only, for the finer cases (the SQL is the same as the pass above)."""
    db = await _seeded(sqlite_url)
    yield db
    await db.dispose()


async def _plaintexts(db: Database, cipher: FieldCipher) -> dict[int, tuple[str, str | None]]:
    async with db.read() as session:
        rows = (await session.execute(select(Probe.seq, Probe.secret_enc, Probe.note_enc))).all()
    return {
        seq: (cipher.decrypt(secret, context="probe.secret"),
              cipher.decrypt(note, context="probe.note") if note else None)
        for seq, secret, note in rows
    }


async def test_rotation_moves_every_value_and_is_idempotent(database):
    """Counts per key id before and after; small batches move all; a rerun moves nothing."""
    before = await key_status(database, ROTATED, [TABLE])
    assert before.counts == {
        "rekey_probe.secret_enc": {"k1": ROWS, "k2": 0, UNKNOWN: 0},
        "rekey_probe.note_enc": {"k1": 13, "k2": 0, UNKNOWN: 0},
    }
    assert before.pending == ROWS + 13
    plain = await _plaintexts(database, UNDER_K1)
    assert await reencrypt_pass(database, ROTATED, TABLE, batch_size=4) == ROWS + 13
    after = await key_status(database, ROTATED, [TABLE])
    assert (after.rows_under("k1"), after.rows_under("k2"), after.pending) == (0, ROWS + 13, 0)
    assert await reencrypt_pass(database, ROTATED, TABLE, batch_size=4) == 0
    # The old key can go: the ring of k2 alone reads every value as it was.
    assert await _plaintexts(database, RETIRED) == plain


async def test_concurrent_write_wins_over_reencryption(sqlite_database):
    """A row changed after the batch read it is not overwritten with the stale value."""
    async with sqlite_database.read() as session:
        snapshot = (await session.execute(
            select(Probe.seq, Probe.secret_enc, Probe.note_enc).where(Probe.seq == 1)
        )).one()
    newer = ROTATED.encrypt("changed meanwhile", context="probe.secret")
    async with sqlite_database.write() as session:
        await session.execute(update(Probe).where(Probe.seq == 1).values(secret_enc=newer))
    async with sqlite_database.write() as session:
        assert await _rewrite(session, ROTATED, TABLE, snapshot) == 0
    assert (await _plaintexts(sqlite_database, ROTATED))[1][0] == "changed meanwhile"


async def test_a_ring_lacking_a_used_key_reports_and_changes_nothing(sqlite_database):
    """Retiring k1 too early: every value under it is counted as unreadable, named, untouched."""
    status = await key_status(sqlite_database, RETIRED, [TABLE])
    assert (status.unreadable, status.unknown_ids) == (ROWS + 13, {"k1"})
    assert await reencrypt_pass(sqlite_database, RETIRED, TABLE, batch_size=10) == 0
    async with sqlite_database.read() as session:
        blobs = (await session.execute(select(Probe.secret_enc))).scalars().all()
    assert {ciphertext_key_id(b) for b in blobs} == {"k1"}


async def test_background_task_finishes_and_stops(sqlite_database):
    """The kit's background task re-encrypts everything, then returns (nothing can lag)."""
    progress = RekeyProgress("probe")
    task = rekeyer(sqlite_database, ROTATED, [TABLE], progress=progress, interval=0.01,
                   batch_size=7)
    await task()
    assert progress.status is not None
    assert progress.status.pending == 0
    assert (await key_status(sqlite_database, ROTATED, [TABLE])).rows_under("k2") == ROWS + 13


async def test_a_damaged_value_is_left_alone_and_the_rest_move(sqlite_database):
    """A value that does not open under its own key is neither lost nor blocks the others."""
    async with sqlite_database.write() as session:
        blob = (await session.execute(select(Probe.secret_enc).where(Probe.seq == 3))).scalar_one()
        damaged = blob[:-1] + bytes([blob[-1] ^ 0x01])
        await session.execute(update(Probe).where(Probe.seq == 3).values(secret_enc=damaged))
    moved = await reencrypt_pass(sqlite_database, ROTATED, TABLE, batch_size=4)
    assert moved == ROWS + 13 - 1
    async with sqlite_database.read() as session:
        kept = (await session.execute(select(Probe.secret_enc).where(Probe.seq == 3))).scalar_one()
    assert kept == damaged
    assert (await key_status(sqlite_database, ROTATED, [TABLE])).pending == 1
