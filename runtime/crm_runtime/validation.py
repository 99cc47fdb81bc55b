"""Collecting field violations at the servicer edge and raising them together."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NoReturn, Protocol

from crm_runtime.errors import FieldViolation, InvalidArgument

MAX_TEXT = 2000
# People and teams are named by the bank's identity provider, not by a service, so they keep
# its id rule (dots allowed: staff/zhang.wei) rather than the resource-id rule of `names`.
STAFF_RE = re.compile(r"^staff/[A-Za-z0-9._-]{1,64}$")
TEAM_RE = re.compile(r"^teams/[A-Za-z0-9._-]{1,64}$")


class _Violation(Protocol):
    @property
    def field(self) -> str: ...

    @property
    def description(self) -> str: ...


class Violations:
    """Collects problems with a request's fields and raises one INVALID_ARGUMENT for all."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        """Record one problem."""
        self.items.append(FieldViolation(field, description))

    def extend(self, prefix: str, found: Iterable[_Violation]) -> None:
        """Record problems found by a domain core, under a request field prefix."""
        for item in found:
            self.add(f"{prefix}{item.field}" if prefix else item.field, item.description)

    def text(self, field: str, value: str, *, required: bool, limit: int = MAX_TEXT) -> None:
        """Check a free-text field's presence and length."""
        if required and not value.strip():
            self.add(field, "is required")
        elif len(value) > limit:
            self.add(field, f"must be at most {limit} characters")

    @staticmethod
    def single(field: str, description: str) -> NoReturn:
        """Raise INVALID_ARGUMENT for one bad field."""
        raise InvalidArgument.of(field, description)

    def raise_if_any(self, *, reason: str | None = None) -> None:
        """Raise INVALID_ARGUMENT listing every recorded problem (first one in the message)."""
        if self.items:
            first = self.items[0]
            raise InvalidArgument(
                f"{first.field}: {first.description}", violations=self.items, reason=reason
            )
