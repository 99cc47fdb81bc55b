"""Pure rules that turn stored events into KPI inputs: grade moves, warning SLAs, exposure.

- Grades follow the master scale of DOMAIN §9, best first; "CCC", "CC", "C" and "CCC-C"
  are one grade. A move to a worse grade is a downgrade, to a better one an upgrade; a
  first rating (no previous grade) or an unknown grade is neither.
- Warning SLAs: the acknowledgement deadline comes with the warning (WarningRaised's
  ``sla_due_time``); when it is missing the level's default below applies. Resolution
  SLAs follow DOMAIN §7 (red 3 days, orange 5, yellow 10; blue, confirmed by the business
  unit, 10) counted in calendar days, which is stricter than working days.
- Exposure at a moment: the amounts of facilities disbursed at or before it and not
  completed at or before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Final

MASTER_SCALE: Final = (
    "AAA", "AA+", "AA", "AA-", "A+", "A", "A-", "BBB+", "BBB", "BBB-",
    "BB+", "BB", "BB-", "B+", "B", "B-", "CCC+", "CCC-C", "D",
)
_ALIASES: Final = MappingProxyType({"CCC": "CCC-C", "CC": "CCC-C", "C": "CCC-C"})
DEFAULT_ACK_SLA: Final[Mapping[str, timedelta]] = MappingProxyType(
    {
        "red": timedelta(hours=4),
        "orange": timedelta(hours=24),
        "yellow": timedelta(days=3),
        "blue": timedelta(days=5),
    }
)
RESOLVE_SLA: Final[Mapping[str, timedelta]] = MappingProxyType(
    {
        "red": timedelta(days=3),
        "orange": timedelta(days=5),
        "yellow": timedelta(days=10),
        "blue": timedelta(days=10),
    }
)
_FALLBACK_LEVEL: Final = "yellow"


def grade_rank(grade: str) -> int | None:
    """Return the 0-based position of a grade on the master scale (0 = best), or None."""
    normal = grade.strip().upper()
    normal = _ALIASES.get(normal, normal)
    return MASTER_SCALE.index(normal) if normal in MASTER_SCALE else None


def grade_move(previous: str, grade: str) -> int:
    """Return +1 for an upgrade, -1 for a downgrade and 0 otherwise."""
    before, after = grade_rank(previous), grade_rank(grade)
    if before is None or after is None or before == after:
        return 0
    return 1 if after < before else -1


def ack_sla(level: str) -> timedelta:
    """Return the default acknowledgement SLA of a warning level."""
    return DEFAULT_ACK_SLA.get(level.lower(), DEFAULT_ACK_SLA[_FALLBACK_LEVEL])


def resolve_sla(level: str) -> timedelta:
    """Return the resolution SLA of a warning level."""
    return RESOLVE_SLA.get(level.lower(), RESOLVE_SLA[_FALLBACK_LEVEL])


@dataclass(frozen=True, slots=True)
class Exposure:
    """A facility's amount and the dates it was on the books."""

    amount: Decimal
    disbursed_on: date
    completed_on: date | None


def exposure_at(facilities: Iterable[Exposure], day: date) -> Decimal:
    """Return the total amount outstanding at the end of ``day``."""
    return sum(
        (
            item.amount
            for item in facilities
            if item.disbursed_on <= day and (item.completed_on is None or item.completed_on > day)
        ),
        Decimal(0),
    )
