"""Read the parts of a GB/T 4754-2017 industry code that rating needs.

The risk service keeps its own small parser instead of importing the client service's:
services share contracts, not code. Only the section's division range is checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

# Section letter -> (first division, last division), GB/T 4754-2017 (DOMAIN §3).
SECTION_DIVISIONS: Final[dict[str, tuple[int, int]]] = {
    "A": (1, 5), "B": (6, 12), "C": (13, 43), "D": (44, 46), "E": (47, 50),
    "F": (51, 52), "G": (53, 60), "H": (61, 62), "I": (63, 65), "J": (66, 69),
    "K": (70, 70), "L": (71, 72), "M": (73, 75), "N": (76, 79), "O": (80, 82),
    "P": (83, 83), "Q": (84, 85), "R": (86, 90), "S": (91, 96), "T": (97, 97),
}

_CODE_RE: Final = re.compile(r"([A-T])?([0-9]{2,4})\Z")


@dataclass(frozen=True)
class Industry:
    """Section letter and two-digit division of an industry code."""

    section: str
    division: str


def parse_industry(code: str) -> Industry:
    """Parse ``C3011``, ``3011`` or ``C30`` into section and division; raise ValueError."""
    text = code.strip().upper()
    match = _CODE_RE.match(text)
    if match is None:
        msg = f"industry code {code!r} must be an optional section letter and 2-4 digits"
        raise ValueError(msg)
    letter, digits = match.group(1), match.group(2)
    division = digits[:2]
    number = int(division)
    for section, (first, last) in SECTION_DIVISIONS.items():
        if first <= number <= last:
            if letter is not None and letter != section:
                msg = f"industry code {code!r}: division {division} belongs to section {section}"
                raise ValueError(msg)
            return Industry(section=section, division=division)
    msg = f"industry division {division!r} is not in any GB/T 4754-2017 section"
    raise ValueError(msg)


# Peer groups for industry-relative ratios and warning thresholds: firms whose balance
# sheets look alike. A developer (K701x) carries land bank and pre-sales that no other
# firm does, so it is judged against developers only; property services join services.
INDUSTRY_GROUPS: Final[tuple[str, ...]] = (
    "manufacturing", "mining", "utilities", "construction", "wholesale_retail", "transport",
    "real_estate_development", "services", "agriculture",
)
_SECTION_GROUPS: Final[dict[str, str]] = {
    "A": "agriculture", "B": "mining", "C": "manufacturing", "D": "utilities",
    "E": "construction", "F": "wholesale_retail", "G": "transport",
}


def industry_group(code: str) -> str:
    """Return the peer group of an industry code; raise ValueError if the code is invalid."""
    industry = parse_industry(code)
    if industry.section == "K":
        digits = code.strip().upper().lstrip("K")
        # 7010 is development; a bare division code "70" is taken as development too.
        return "real_estate_development" if digits[:3] in {"701", "70"} else "services"
    return _SECTION_GROUPS.get(industry.section, "services")
