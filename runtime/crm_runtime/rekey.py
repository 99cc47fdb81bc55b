"""Re-encryption of personal data onto the active key, and the count of rows under each key.

A service lists its encrypted columns (`EncryptedTable`); the kit then checks at startup that
the ring holds every key its data names, and runs `rekeyer` in the background. Rows are found
by the key-id header every ciphertext starts with (crm_runtime.crypto), so neither a schema
change nor a key-id column is needed, and the count per key is one SQL query per column.

Each batch is its own short transaction, and each row is written back only if its ciphertexts
are still the ones read (compare-and-set): a concurrent write, which always seals under the
active key, wins, and a rerun finds nothing left to do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation
from sqlalchemy import ColumnElement, LargeBinary, and_, case, func, literal, or_, select, update

from crm_runtime.crypto import FieldCipher, MissingKeyError, ciphertext_key_id, key_header
from crm_runtime.db import Database
from crm_runtime.keyring import LEGACY_KEY_ID
from crm_runtime.logging import get_logger

log = get_logger("rekey")
UNKNOWN = "?"
_V1 = b"\x01"


@dataclass(frozen=True)
class EncryptedTable:
    """A table with encrypted columns: its model, its unique key and column → context."""

    model: Any
    key: str
    columns: Mapping[str, str]

    @property
    def name(self) -> str:
        """Return the table's name."""
        return str(self.model.__tablename__)

    def column(self, attribute: str) -> Any:
        """Return the SQL column of a model attribute."""
        return getattr(self.model, attribute)


@dataclass
class KeyStatus:
    """Rows per key id, per `table.column`; UNKNOWN counts rows under keys the ring lacks."""

    active: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    unknown_ids: set[str] = field(default_factory=set)

    def rows_under(self, key_id: str) -> int:
        """Return how many values are sealed with `key_id`."""
        return sum(per_key.get(key_id, 0) for per_key in self.counts.values())

    @property
    def pending(self) -> int:
        """Return how many values are not yet under the active key."""
        return sum(n for per in self.counts.values() for k, n in per.items() if k != self.active)

    @property
    def unreadable(self) -> int:
        """Return how many values name a key the ring does not hold."""
        return self.rows_under(UNKNOWN)


def _present(column: Any) -> ColumnElement[bool]:
    return and_(column.is_not(None), func.length(column) > 0)


def _starts(column: Any, prefix: bytes) -> ColumnElement[bool]:
    return func.substr(column, 1, len(prefix)) == literal(prefix, LargeBinary)


async def key_status(
    database: Database, cipher: FieldCipher, tables: Sequence[EncryptedTable]
) -> KeyStatus:
    """Count each encrypted column's values per key id of the ring (and those of none)."""
    status = KeyStatus(active=cipher.active_key_id)
    ids = list(cipher.keyring.keys)
    async with database.read() as session:
        for table in tables:
            for attribute in table.columns:
                column = table.column(attribute)
                prefixes = {kid: _prefixes(kid) for kid in ids}
                sums = [
                    func.sum(case((or_(*(_starts(column, p) for p in prefixes[kid])), 1), else_=0))
                    for kid in ids
                ]
                row = (
                    await session.execute(select(func.count(), *sums).where(_present(column)))
                ).one()
                per_key = {kid: int(n or 0) for kid, n in zip(ids, row[1:], strict=True)}
                per_key[UNKNOWN] = int(row[0]) - sum(per_key.values())
                if per_key[UNKNOWN]:
                    status.unknown_ids |= await _unknown_ids(session, column, prefixes)
                status.counts[f"{table.name}.{attribute}"] = per_key
    return status


def _prefixes(key_id: str) -> list[bytes]:
    # The legacy key also opens the v1 ciphertexts written before key ids.
    return [key_header(key_id), _V1] if key_id == LEGACY_KEY_ID else [key_header(key_id)]


async def _unknown_ids(
    session: Any, column: Any, prefixes: dict[str, list[bytes]]
) -> set[str]:
    known = or_(*(_starts(column, p) for ps in prefixes.values() for p in ps))
    heads = await session.execute(
        select(func.substr(column, 1, 34)).where(_present(column), ~known).limit(100)
    )
    return {_safe_key_id(bytes(head)) for (head,) in heads}


def _safe_key_id(head: bytes) -> str:
    try:
        return ciphertext_key_id(head)
    except ValueError:
        return "(unknown format)"


async def reencrypt_pass(
    database: Database, cipher: FieldCipher, table: EncryptedTable, *, batch_size: int
) -> int:
    """Move every value of `table` not under the active key onto it; return values moved."""
    moved, after = 0, None
    key = table.column(table.key)
    columns = [table.column(a) for a in table.columns]
    active = key_header(cipher.active_key_id)
    stale = or_(*(and_(_present(c), ~_starts(c, active)) for c in columns))
    while True:
        async with database.write() as session:
            statement = select(key, *columns).where(stale).order_by(key).limit(batch_size)
            if after is not None:
                statement = statement.where(key > after)
            rows = (await session.execute(statement)).all()
            for row in rows:
                moved += await _rewrite(session, cipher, table, row)
        if len(rows) < batch_size:
            return moved
        after = rows[-1][0]
        await asyncio.sleep(0)  # Let requests in between batches.


async def _rewrite(session: Any, cipher: FieldCipher, table: EncryptedTable, row: Any) -> int:
    old: dict[str, bytes] = {}
    new: dict[str, bytes] = {}
    for attribute, value in zip(table.columns, row[1:], strict=True):
        if value and cipher.needs_reencryption(value):
            context = table.columns[attribute]
            try:
                plaintext = cipher.decrypt(value, context=context)
            except MissingKeyError:
                continue  # Counted and named by key_status; left as it is, never lost.
            except InvalidTag:
                # It does not open under its own key: damaged. Left as it is for a person.
                log.error("value does not decrypt; left as it is", table=table.name,
                          column=attribute, key=str(row[0]))
                continue
            old[attribute], new[attribute] = value, cipher.encrypt(plaintext, context=context)
    if not new:
        return 0
    same = [table.column(a) == literal(v, LargeBinary) for a, v in old.items()]
    result = await session.execute(
        update(table.model).where(table.column(table.key) == row[0], *same).values(**new)
    )
    return len(new) if result.rowcount == 1 else 0


def missing_keys_message(status: KeyStatus) -> str:
    """Return the operator-facing explanation of values the ring cannot open."""
    names = ", ".join(sorted(status.unknown_ids)) or "unknown"
    return (
        f"{status.unreadable} encrypted values are under key id(s) {names}, which the keyring "
        "(PII_KEYRING / PII_ENCRYPTION_KEY) does not hold: add the key back to the ring; "
        "retire a key only once `crm_admin keys status` shows no rows under it"
    )


class RekeyProgress:
    """The latest status, exported as the gauge crm.pii.values_pending_reencryption."""

    def __init__(self, service: str) -> None:
        self.status: KeyStatus | None = None
        self._service = service
        metrics.get_meter("crm_runtime.rekey").create_observable_gauge(
            "crm.pii.values_pending_reencryption",
            callbacks=[self._observe],
            description="Encrypted values not yet under the active personal-data key",
        )

    def _observe(self, options: CallbackOptions) -> list[Observation]:
        if self.status is None:
            return []
        return [Observation(self.status.pending, {"service": self._service})]


def rekeyer(
    database: Database,
    cipher: FieldCipher,
    tables: Sequence[EncryptedTable],
    *,
    progress: RekeyProgress,
    interval: float,
    batch_size: int,
) -> Callable[[], Coroutine[Any, Any, None]]:
    """Return a background task that re-encrypts until every value is under the active key.

    It stops once nothing is left: new writes are always sealed with the active key, so
    nothing can fall behind again until the process restarts with another active key.
    """

    async def run() -> None:
        # The count taken at startup (kit) serves the first round: one scan, not two.
        counted = progress.status
        while True:
            try:
                status = counted or await key_status(database, cipher, tables)
                counted = None
                progress.status = status
                if status.pending == status.unreadable:
                    if status.unreadable:
                        log.error("re-encryption blocked", reason=missing_keys_message(status))
                    else:
                        log.info("re-encryption complete", active_key_id=status.active)
                        return
                else:
                    log.info("re-encrypting", active_key_id=status.active, pending=status.pending)
                    moved = sum([await reencrypt_pass(database, cipher, t, batch_size=batch_size)
                                 for t in tables])
                    log.info("re-encrypted", values=moved)
                    if moved:
                        continue
            except Exception as exc:
                log.warning("re-encryption failed; retrying", error=type(exc).__name__)
            await asyncio.sleep(interval)

    return run
