"""Reading a book file (CSV or JSON Lines) into ImportRow messages.

CSV carries key persons as repeated columns (kp1_role, kp1_display_name, ..., kp2_role, ...);
JSON Lines nests them as a "key_persons" list. A value that cannot even be put into the
message (a non-numeric amount, an unknown enum word) makes a local row error; everything else
goes to the service, which checks rows with the rules of CreateClient.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, cast

from google.protobuf.message import Message
from google.type import date_pb2, money_pb2

from crm.client.v1 import client_import_pb2, client_pb2

CLIENT_TEXT = ("display_name", "credit_code", "industry_code", "region_code", "group")
CLIENT_MONEY = ("registered_capital", "annual_revenue", "total_assets", "previous_annual_revenue")
PERSON_TEXT = ("display_name", "id_number", "mobile_number", "occupation")
# Enum words in files are the value names without their prefix, lower case: "private".
PERSON_ENUMS = {
    "role": client_pb2.KeyPersonRole,
    "gender": client_pb2.Gender,
    "education": client_pb2.Education,
    "income_band": client_pb2.IncomeBand,
}
_PERSON_COLUMN = re.compile(r"^kp(\d+)_(\w+)$")
_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


class RowProblem(ValueError):
    """A value that cannot be carried in the row message; `field` names it."""

    def __init__(self, field: str, description: str) -> None:
        super().__init__(f"{field}: {description}")
        self.field, self.description = field, description


@dataclass(frozen=True, slots=True)
class ParsedRow:
    """A row of the file: its message, or the problem that kept it from becoming one."""

    number: int
    message: client_import_pb2.ImportRow | None
    problem: RowProblem | None = None


def _enum(enum: Any, field: str, word: str) -> int:
    if not word:
        return 0
    prefix = enum.DESCRIPTOR.values[0].name.removesuffix("UNSPECIFIED")
    try:
        return int(enum.Value(prefix + word.strip().upper()))
    except ValueError:
        raise RowProblem(field, f"{word!r} is not a known value") from None


def _date(field: str, text: str) -> date_pb2.Date | None:
    if not text:
        return None
    match = _DATE.match(text.strip())
    if match is None:
        raise RowProblem(field, "must be a date YYYY-MM-DD")
    year, month, day = (int(part) for part in match.groups())
    return date_pb2.Date(year=year, month=month, day=day)


def _money(field: str, text: object) -> money_pb2.Money | None:
    if text in ("", None):
        return None
    try:
        amount = Decimal(str(text).replace(",", ""))
    except InvalidOperation:
        raise RowProblem(field, "must be an amount in yuan") from None
    units = int(amount)
    return money_pb2.Money(
        currency_code="CNY", units=units, nanos=int((amount - units) * 1_000_000_000)
    )


def _set(message: Message, name: str, value: Message | None) -> None:
    if value is not None:
        getattr(message, name).CopyFrom(value)


def _person(values: Mapping[str, Any], path: str) -> client_pb2.KeyPerson:
    person = client_pb2.KeyPerson()
    for name in PERSON_TEXT:
        setattr(person, name, str(values.get(name) or ""))
    for name, enum in PERSON_ENUMS.items():
        setattr(person, name, _enum(enum, f"{path}.{name}", str(values.get(name) or "")))
    _set(person, "birth_date", _date(f"{path}.birth_date", str(values.get("birth_date") or "")))
    return person


def _count(field: str, value: object) -> int:
    if value in ("", None):
        return 0
    try:
        return int(str(value))
    except ValueError:
        raise RowProblem(field, "must be a whole number") from None


def row_message(number: int, values: Mapping[str, Any]) -> client_import_pb2.ImportRow:
    """Return the message of one row given as a JSON Lines object; raise RowProblem."""
    client = client_pb2.Client()
    for name in CLIENT_TEXT:
        setattr(client, name, str(values.get(name) or ""))
    word = str(values.get("ownership_type") or "")
    ownership = _enum(client_pb2.OwnershipType, "client.ownership_type", word)
    client.ownership_type = cast(client_pb2.OwnershipType, ownership)
    client.employee_count = _count("client.employee_count", values.get("employee_count"))
    client.project_finance = str(values.get("project_finance", "")).lower() in ("true", "1")
    founded = _date("client.founding_date", str(values.get("founding_date") or ""))
    _set(client, "founding_date", founded)
    for name in CLIENT_MONEY:
        _set(client, name, _money(f"client.{name}", values.get(name)))
    people = values.get("key_persons") or []
    return client_import_pb2.ImportRow(
        row_number=number,
        client=client,
        key_persons=[_person(p, f"key_persons[{i}]") for i, p in enumerate(people)],
        relationship_manager=str(values.get("relationship_manager") or ""),
        team=str(values.get("team") or ""),
    )


def _nest_persons(flat: Mapping[str, str]) -> dict[str, Any]:
    """Turn CSV columns kpN_field into the JSON shape's key_persons list."""
    values: dict[str, Any] = {}
    people: dict[int, dict[str, str]] = {}
    for column, value in flat.items():
        match = _PERSON_COLUMN.match(column or "")
        if match is None:
            values[column] = value
        elif value:
            people.setdefault(int(match.group(1)), {})[match.group(2)] = value
    values["key_persons"] = [people[n] for n in sorted(people) if people[n]]
    return values


def read_rows(path: Path, *, skip: int = 0) -> Iterator[ParsedRow]:
    """Yield the file's rows from number skip+1 on (CSV by extension, else JSON Lines)."""
    with path.open(encoding="utf-8", newline="") as handle:
        if path.suffix.lower() == ".csv":
            source: Iterator[Any] = (_nest_persons(r) for r in csv.DictReader(handle))
        else:
            source = (line for line in handle if line.strip())
        for number, item in enumerate(source, start=1):
            if number <= skip:
                continue
            try:
                values = item if isinstance(item, dict) else json.loads(item)
                if not isinstance(values, dict):
                    raise RowProblem("row", "is not a JSON object")
                yield ParsedRow(number, row_message(number, values))
            except json.JSONDecodeError:
                yield ParsedRow(number, None, RowProblem("row", "is not a JSON object"))
            except RowProblem as problem:
                yield ParsedRow(number, None, problem)
