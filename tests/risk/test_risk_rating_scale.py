"""Tests for the master rating scale."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_risk.rating.scale import (
    MASTER_SCALES,
    grade_for_pd,
    grade_rank,
    pd_midpoint,
    worse_of,
)

GRADES = ["AAA", "AA+", "AA", "AA-", "A+", "A", "A-", "BBB+", "BBB", "BBB-", "BB", "B",
          "CCC-C", "D"]


class TestScale:
    def test_grades_in_order(self) -> None:
        """The default scale lists AAA to B, CCC-C and D, ranked from 1."""
        assert MASTER_SCALES["MS-2026.1"].grades == tuple(GRADES)
        assert [grade_rank(g) for g in GRADES] == list(range(1, 15))

    def test_bands_are_contiguous(self) -> None:
        """Each band starts where the previous one ends, so every PD has one grade."""
        bands = MASTER_SCALES["MS-2026.1"].bands
        for upper, lower in itertools.pairwise(bands):
            assert upper.pd_high == lower.pd_low

    @pytest.mark.parametrize(
        ("pd", "grade"),
        [(0.0, "AAA"), (0.0003, "AAA"), (0.0005, "AAA"), (0.0008, "AA+"), (0.0069, "A-"),
         (0.007, "BBB+"), (0.0249, "BBB-"), (0.025, "BB"), (0.05, "B"), (0.1199, "B"),
         (0.12, "CCC-C"), (0.5, "CCC-C"), (0.999, "CCC-C"), (1.0, "D")],
    )
    def test_grade_for_pd(self, pd: float, grade: str) -> None:
        """PDs map to half-open bands after the 0.05 % floor; PD 1 is default."""
        assert grade_for_pd(pd) == grade

    @pytest.mark.parametrize("pd", [-0.01, 1.01, float("nan")])
    def test_invalid_pd(self, pd: float) -> None:
        """PDs outside [0, 1] are rejected."""
        with pytest.raises(ValueError, match="PD"):
            grade_for_pd(pd)

    def test_midpoints(self) -> None:
        """Midpoints sit inside their band; D is 1."""
        assert pd_midpoint("AAA") == pytest.approx(0.00065)
        assert pd_midpoint("BB") == pytest.approx(0.0375)
        assert pd_midpoint("D") == 1.0
        for grade in GRADES[:-1]:
            assert grade_for_pd(pd_midpoint(grade)) == grade

    def test_unknown_grade(self) -> None:
        """Unknown grades raise."""
        with pytest.raises(ValueError, match="unknown grade"):
            grade_rank("AAAA")
        with pytest.raises(ValueError, match="unknown grade"):
            pd_midpoint("E")

    def test_worse_of(self) -> None:
        """worse_of returns the lower-quality grade."""
        assert worse_of("A", "BB") == "BB"
        assert worse_of("CCC-C", "AA") == "CCC-C"

    @settings(max_examples=200)
    @given(a=st.floats(0, 1), b=st.floats(0, 1))
    def test_higher_pd_never_better_grade(self, a: float, b: float) -> None:
        """grade_for_pd is monotone."""
        low, high = sorted((a, b))
        assert grade_rank(grade_for_pd(high)) >= grade_rank(grade_for_pd(low))
