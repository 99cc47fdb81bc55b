"""Proto enum values and the lower-case names the stores keep for them.

Stores keep an enum as readable text ("state_owned", not 1), so a row means the same thing
whatever the generated code's numbering. The text is the value's name without the enum's
prefix, lower-cased: OWNERSHIP_TYPE_STATE_OWNED is stored as "state_owned". The prefix is read
from the zero value (buf's STANDARD lint makes every enum start with <PREFIX>_UNSPECIFIED), so
the tables follow the proto instead of being written out by hand in every service.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

_ZERO_SUFFIX = "UNSPECIFIED"


class _EnumType(Protocol):
    """What generated code offers for a proto enum (EnumTypeWrapper)."""

    def items(self) -> list[tuple[str, int]]: ...


class StoredNames(NamedTuple):
    """Both directions between an enum's numbers and its stored names (zero value left out)."""

    by_number: dict[int, str]
    by_name: dict[str, int]


def stored_names(enum: _EnumType) -> StoredNames:
    """Return the stored name of every value of `enum` but the zero value, and the reverse."""
    values = enum.items()
    zero = next(name for name, number in values if number == 0)
    if not zero.endswith(_ZERO_SUFFIX):
        raise ValueError(f"{zero} does not end in {_ZERO_SUFFIX}, so the prefix is unknown")
    prefix = zero.removesuffix(_ZERO_SUFFIX)
    by_number = {number: name.removeprefix(prefix).lower() for name, number in values if number}
    return StoredNames(by_number, {name: number for number, name in by_number.items()})
