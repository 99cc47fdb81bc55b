"""Checking the rows of one import chunk with the rules of CreateClient and CreateKeyPerson.

Every row is checked by the same functions the single-item RPCs call (check_client_fields,
check_assignment, check_people, size_of), so a row the import accepts is one CreateClient
would accept. A bad row gets its problems listed and is left out; the others go on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from crm.client.v1 import client_import_pb2
from crm_client.client_fields import CREATE_FIELDS, size_of
from crm_client.domain.size_class import SizeResult
from crm_client.people import check_people
from crm_client.validation import Violations, check_assignment, check_client_fields
from crm_runtime.auth import Principal
from crm_runtime.errors import InvalidArgument
from crm_runtime.ownership import owns

MAX_ROWS_PER_CHUNK = 5000
CREDIT_CODE_FIELD = "client.credit_code"


@dataclass(frozen=True, slots=True)
class GoodRow:
    """A row that passed every check, with the size class derived from it."""

    row: client_import_pb2.ImportRow
    size: SizeResult


@dataclass
class CheckedChunk:
    """A chunk's rows split into those to store and the problems of the others."""

    good: list[GoodRow]
    errors: list[client_import_pb2.ImportRowError]

    def reject(self, row_number: int, problems: Iterable[tuple[str, str]]) -> None:
        """Record a refused row with each of its problems."""
        self.errors.extend(
            client_import_pb2.ImportRowError(
                row_number=row_number, field=field, description=description
            )
            for field, description in problems
        )

    def drop_taken(self, taken: set[str]) -> None:
        """Refuse the rows whose credit code a stored client already holds."""
        kept = []
        for good in self.good:
            if good.row.client.credit_code in taken:
                self.reject(
                    good.row.row_number,
                    [(CREDIT_CODE_FIELD, "a client with this credit code exists")],
                )
            else:
                kept.append(good)
        self.good = kept
        self.errors.sort(key=lambda error: error.row_number)


def _row_problems(
    row: client_import_pb2.ImportRow, principal: Principal, today: date
) -> tuple[Violations, SizeResult | None]:
    v = Violations()
    if not row.HasField("client"):
        v.add("client", "is required")
        return v, None
    check_client_fields(v, row.client, CREATE_FIELDS, today=today)
    check_assignment(
        v,
        relationship_manager=row.relationship_manager,
        team=row.team,
        project_finance=row.client.project_finance,
    )
    check_people(v, list(row.key_persons), today=today, prefix="key_persons")
    if v.items:
        return v, None
    if not owns(principal, row.relationship_manager, row.team):
        v.add("relationship_manager", "is outside the caller's clients")
        return v, None
    try:
        return v, size_of(row.client)
    except InvalidArgument as exc:
        v.items.extend(exc.violations)
        return v, None


def check_rows(
    rows: Sequence[client_import_pb2.ImportRow], principal: Principal, *, today: date
) -> CheckedChunk:
    """Check every row; a credit code twice in the chunk keeps its first good row only.

    Codes already stored are checked later, inside the write transaction (drop_taken).
    """
    chunk = CheckedChunk(good=[], errors=[])
    first_row_of: dict[str, int] = {}
    for row in rows:
        v, size = _row_problems(row, principal, today)
        code = row.client.credit_code
        if size is not None and code in first_row_of:
            v.add(CREDIT_CODE_FIELD, f"repeats the credit code of row {first_row_of[code]}")
        if v.items or size is None:
            chunk.reject(row.row_number, ((item.field, item.description) for item in v.items))
            continue
        first_row_of[code] = row.row_number
        chunk.good.append(GoodRow(row, size))
    return chunk
