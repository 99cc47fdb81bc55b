"""Tests for the master rating scale."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_risk.rating.model.scale import (
    MASTER_SCALES,
    grade_for_pd,
    grade_rank,
    pd_midpoint,
    worse_of,
)

GRADES = ["AAA", "AA+", "AA", "AA-", "A+", "A", "A-", "BBB+", "BBB", "BBB-", "BB+", "BB",
          "BB-", "B+", "B", "B-", "CCC+", "CCC-C", "D"]
OLD_GRADES = ["AAA", "AA+", "AA", "AA-", "A+", "A", "A-", "BBB+", "BBB", "BBB-", "BB", "B",
              "CCC-C", "D"]


class TestScale:
    def test_grades_in_order(self) -> None:
        """The default scale MS-2027.1 lists AAA to CCC-C and D, ranked from 1."""
        assert MASTER_SCALES["MS-2027.1"].grades == tuple(GRADES)
        assert [grade_rank(g) for g in GRADES] == list(range(1, 20))

    def test_old_scale_is_kept_and_its_grades_are_on_the_new_one(self) -> None:
        """Ratings on MS-2026.1 stay readable: every old grade exists on MS-2027.1."""
        assert MASTER_SCALES["MS-2026.1"].grades == tuple(OLD_GRADES)
        assert set(OLD_GRADES) <= set(GRADES)

    @pytest.mark.parametrize("version", ["MS-2026.1", "MS-2027.1"])
    def test_bands_are_contiguous(self, version: str) -> None:
        """Each band starts where the previous one ends, so every PD has one grade."""
        bands = MASTER_SCALES[version].bands
        for upper, lower in itertools.pairwise(bands):
            assert upper.pd_high == lower.pd_low

    def test_sub_investment_pds_fall_in_different_grades(self) -> None:
        """2 %, 4 %, 8 %, 15 % and 30 % PDs get five different grades below BBB+."""
        grades = [grade_for_pd(pd) for pd in (0.02, 0.04, 0.08, 0.15, 0.30)]
        assert grades == ["BBB-", "BB", "B+", "B-", "CCC-C"]

    @pytest.mark.parametrize(
        ("pd", "grade"),
        [(0.0, "AAA"), (0.0003, "AAA"), (0.0005, "AAA"), (0.0008, "AA+"), (0.0074, "A-"),
         (0.0075, "BBB+"), (0.0239, "BBB-"), (0.024, "BB+"), (0.034, "BB"), (0.05, "BB-"),
         (0.0949, "B+"), (0.095, "B"), (0.13, "B-"), (0.19, "CCC+"), (0.26, "CCC-C"),
         (0.999, "CCC-C"), (1.0, "D")],
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
        assert pd_midpoint("BB") == pytest.approx(0.041)
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
