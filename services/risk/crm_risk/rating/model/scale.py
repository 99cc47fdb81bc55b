"""Master rating scale: grades, their one-year PD bands and order (DOMAIN §9).

Bands are half-open, [low, high): a PD on a boundary belongs to the worse grade. The
regulatory corporate PD floor (0.05 %, NFRA order 2023 No. 4) is applied before
mapping. D is the default grade and carries PD 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class GradeBand:
    """One grade and its PD band [pd_low, pd_high)."""

    grade: str
    pd_low: float
    pd_high: float


@dataclass(frozen=True)
class MasterScale:
    """One version of the master scale, best grade first."""

    version: str
    bands: tuple[GradeBand, ...]
    pd_floor: float

    def band(self, grade: str) -> GradeBand:
        """Return the band of ``grade``; raise ValueError if the scale has no such grade."""
        for band in self.bands:
            if band.grade == grade:
                return band
        msg = f"unknown grade {grade!r} on master scale {self.version}"
        raise ValueError(msg)

    @property
    def grades(self) -> tuple[str, ...]:
        """Return the grades, best first."""
        return tuple(band.grade for band in self.bands)


DEFAULT_MASTER_SCALE: Final = "MS-2027.1"
MASTER_SCALES: Final[dict[str, MasterScale]] = {
    # Below BBB- the bands widen by about 1.4x a notch, so 2 %, 4 %, 8 %, 15 % and 30 %
    # PDs land in different grades (BBB-, BB, B+, B-, CCC-C) and limits can be priced
    # per notch. Grade names from MS-2026.1 keep their place; BB+, BB-, B+, B-, CCC+ are
    # new. CCC-C stays the name of the last performing band, so "CCC", "CC" and "C"
    # written elsewhere still mean it.
    "MS-2027.1": MasterScale(
        version="MS-2027.1",
        pd_floor=0.0005,
        bands=(
            GradeBand("AAA", 0.0005, 0.0008),
            GradeBand("AA+", 0.0008, 0.0012),
            GradeBand("AA", 0.0012, 0.0018),
            GradeBand("AA-", 0.0018, 0.0027),
            GradeBand("A+", 0.0027, 0.0040),
            GradeBand("A", 0.0040, 0.0055),
            GradeBand("A-", 0.0055, 0.0075),
            GradeBand("BBB+", 0.0075, 0.0105),
            GradeBand("BBB", 0.0105, 0.0150),
            GradeBand("BBB-", 0.0150, 0.0240),
            GradeBand("BB+", 0.0240, 0.0340),
            GradeBand("BB", 0.0340, 0.0480),
            GradeBand("BB-", 0.0480, 0.0670),
            GradeBand("B+", 0.0670, 0.0950),
            GradeBand("B", 0.0950, 0.1300),
            GradeBand("B-", 0.1300, 0.1900),
            GradeBand("CCC+", 0.1900, 0.2600),
            GradeBand("CCC-C", 0.2600, 1.0),
            GradeBand("D", 1.0, 1.0),
        ),
    ),
    "MS-2026.1": MasterScale(
        version="MS-2026.1",
        pd_floor=0.0005,
        bands=(
            GradeBand("AAA", 0.0005, 0.0008),
            GradeBand("AA+", 0.0008, 0.0012),
            GradeBand("AA", 0.0012, 0.0018),
            GradeBand("AA-", 0.0018, 0.0027),
            GradeBand("A+", 0.0027, 0.0040),
            GradeBand("A", 0.0040, 0.0055),
            GradeBand("A-", 0.0055, 0.0070),
            GradeBand("BBB+", 0.0070, 0.0100),
            GradeBand("BBB", 0.0100, 0.0150),
            GradeBand("BBB-", 0.0150, 0.0250),
            GradeBand("BB", 0.0250, 0.0500),
            GradeBand("B", 0.0500, 0.1200),
            # The last performing grade takes every PD short of certain default.
            GradeBand("CCC-C", 0.1200, 1.0),
            GradeBand("D", 1.0, 1.0),
        ),
    ),
}


def _scale(version: str) -> MasterScale:
    """Return the master scale of ``version``; raise ValueError if it is unknown."""
    try:
        return MASTER_SCALES[version]
    except KeyError:
        msg = f"unknown master scale version {version!r}"
        raise ValueError(msg) from None


def grade_for_pd(pd: float, *, version: str = DEFAULT_MASTER_SCALE) -> str:
    """Return the grade whose band holds ``pd`` after the PD floor; PD 1 is D."""
    if math.isnan(pd) or not 0.0 <= pd <= 1.0:
        msg = f"PD must be between 0 and 1, got {pd}"
        raise ValueError(msg)
    scale = _scale(version)
    floored = max(pd, scale.pd_floor)
    for band in scale.bands:
        if band.pd_low <= floored < band.pd_high:
            return band.grade
    return scale.bands[-1].grade


def pd_midpoint(grade: str, *, version: str = DEFAULT_MASTER_SCALE) -> float:
    """Return the arithmetic midpoint of the grade's PD band (1.0 for D)."""
    band = _scale(version).band(grade)
    return (band.pd_low + band.pd_high) / 2


def grade_rank(grade: str, *, version: str = DEFAULT_MASTER_SCALE) -> int:
    """Return the grade's position on the scale, 1 for AAA; raise ValueError if unknown."""
    grades = _scale(version).grades
    if grade not in grades:
        msg = f"unknown grade {grade!r} on master scale {version}"
        raise ValueError(msg)
    return grades.index(grade) + 1


def is_grade(grade: str, *, version: str = DEFAULT_MASTER_SCALE) -> bool:
    """Return True when ``grade`` is on the master scale."""
    return grade in _scale(version).grades


def worse_of(first: str, second: str, *, version: str = DEFAULT_MASTER_SCALE) -> str:
    """Return the worse (higher-ranked) of two grades."""
    if grade_rank(first, version=version) >= grade_rank(second, version=version):
        return first
    return second


def falls_to(previous: str, grade: str, line: str, *, version: str = DEFAULT_MASTER_SCALE) -> bool:
    """Return True when a grade moves from better than `line` to `line` or worse (unknown
    grades never do)."""
    if not all(is_grade(g, version=version) for g in (previous, grade, line)):
        return False
    mark = grade_rank(line, version=version)
    return grade_rank(previous, version=version) < mark <= grade_rank(grade, version=version)
