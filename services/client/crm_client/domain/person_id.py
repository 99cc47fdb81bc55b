"""Validate and build resident ID numbers (GB 11643-1999) and mainland mobile numbers.

An ID number has 18 characters: a 6-digit address code (GB/T 2260), the birth date as
YYYYMMDD, a 3-digit sequence whose last digit is odd for men and even for women, and a
check character (ISO 7064 MOD 11-2: digit or ``X``). Legacy 15-digit numbers carry no
check character and are not accepted: every number we store must be verifiable.
"""

from __future__ import annotations

import datetime
import re
from typing import Final, Literal

ID_LENGTH: Final = 18

# MOD 11-2 weights 2^(17-i) mod 11 for 0-based i, i.e. 2^17 .. 2^1 over positions 1..17.
_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS: Final = "10X98765432"
_DIGITS: Final = frozenset("0123456789")

MOBILE_RE: Final = re.compile(r"^1[3-9]\d{9}\Z", re.ASCII)
"""Mainland mobile number: 11 digits, ``1`` then 3-9. ``\\Z`` refuses a trailing newline."""


def id_check_character(first17: str) -> str:
    """Return the MOD 11-2 check character for the first 17 digits of an ID number.

    Raise ValueError unless ``first17`` is exactly 17 ASCII digits.
    """
    if len(first17) != ID_LENGTH - 1 or not set(first17) <= _DIGITS:
        msg = "need exactly 17 digits"
        raise ValueError(msg)
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def _parse_birth(value: str) -> datetime.date | None:
    """Return the birth date in positions 7-14, or None if it is not a real date."""
    try:
        return datetime.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return None


def _shape_problem(value: str) -> str | None:
    """Return why ``value`` is not 17 digits plus a digit or X, or None if it is."""
    if len(value) != ID_LENGTH:
        return f"must be {ID_LENGTH} characters"
    for index, char in enumerate(value[:17]):
        if char not in _DIGITS:
            return f"invalid character at position {index + 1}"
    if value[17] not in _DIGITS and value[17] != "X":
        return f"invalid character at position {ID_LENGTH}"
    return None


def person_id_problem(value: str, *, today: datetime.date | None = None) -> str | None:
    """Return None if ``value`` is a valid 18-character ID number, else a short reason.

    ``today`` bounds the birth date; it defaults to the current local date and is a
    parameter so that callers and tests can pin it. A lower-case ``x`` is rejected:
    folding case is the API edge's job, and stored numbers must be canonical.
    """
    shape = _shape_problem(value)
    if shape is not None:
        return shape
    # The reasons never quote the number's digits: they are a person's birth date, and
    # errors travel to callers, logs and audit records (issue 11, defect 12).
    birth = _parse_birth(value)
    if birth is None:
        return "invalid birth date"
    if birth > (today or datetime.date.today()):
        return "birth date is in the future"
    expected = id_check_character(value[:17])
    if value[17] != expected:
        return f"wrong check character at position 18: expected '{expected}'"
    return None


def make_person_id(area6: str, birth: datetime.date, sequence3: int) -> str:
    """Build a valid ID number from an address code, birth date and sequence number.

    ``sequence3`` is 0-999; its parity sets the gender (odd = male). Raise ValueError
    if ``area6`` is not 6 digits or ``sequence3`` is out of range.
    """
    if len(area6) != 6 or not set(area6) <= _DIGITS:
        msg = "area6 must be 6 digits"
        raise ValueError(msg)
    if not 0 <= sequence3 <= 999:
        msg = "sequence3 must be between 0 and 999"
        raise ValueError(msg)
    # Format fields explicitly: strftime("%Y") drops leading zeros on some platforms.
    first17 = f"{area6}{birth.year:04d}{birth.month:02d}{birth.day:02d}{sequence3:03d}"
    return first17 + id_check_character(first17)


def _require_valid(value: str) -> None:
    """Raise ValueError naming the problem if ``value`` is not a valid ID number."""
    problem = person_id_problem(value)
    if problem is not None:
        msg = f"invalid resident ID: {problem}"
        raise ValueError(msg)


def birth_date_from_id(value: str) -> datetime.date:
    """Return the birth date encoded in a valid ID number; raise ValueError if invalid."""
    _require_valid(value)
    birth = _parse_birth(value)
    if birth is None:  # pragma: no cover - person_id_problem already rejected it
        msg = "invalid resident ID: bad birth date"
        raise ValueError(msg)
    return birth


def gender_from_id(value: str) -> Literal["male", "female"]:
    """Return the gender encoded in a valid ID number (odd 17th digit = male)."""
    _require_valid(value)
    return "male" if int(value[16]) % 2 == 1 else "female"


def mobile_problem(value: str) -> str | None:
    """Return None if ``value`` is a mainland mobile number, else a short reason."""
    if MOBILE_RE.match(value):
        return None
    if len(value) != 11 or not set(value) <= _DIGITS:
        return "must be 11 digits"
    return "must start with 1 followed by a digit from 3 to 9"
