"""Tests for administrative division code checks (GB/T 2260)."""

from __future__ import annotations

import pytest

from crm_client.domain.region import PROVINCE_NAMES, province_name, region_problem

PROVINCE_CODES = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82",
]  # fmt: skip


class TestProvinceTable:
    def test_exactly_the_34_province_level_codes(self) -> None:
        """The table holds the 34 province-level divisions and nothing else."""
        assert sorted(PROVINCE_NAMES) == PROVINCE_CODES

    @pytest.mark.parametrize(
        ("code", "name"),
        [("11", "Beijing"), ("44", "Guangdong"), ("50", "Chongqing"), ("81", "Hong Kong")],
    )
    def test_names(self, code: str, name: str) -> None:
        """Province codes map to their English names."""
        assert PROVINCE_NAMES[code] == name


class TestRegionProblem:
    @pytest.mark.parametrize("code", ["110105", "440300", "310115", "820000", "650000"])
    def test_valid_codes(self, code: str) -> None:
        """Six digits with a real province prefix are accepted."""
        assert region_problem(code) is None

    @pytest.mark.parametrize("code", ["", "44030", "4403001", "44O300", "４４０３００", " 44030"])
    def test_wrong_shape(self, code: str) -> None:
        """Anything but six ASCII digits is rejected for its shape."""
        assert region_problem(code) == "must be 6 digits"

    @pytest.mark.parametrize("prefix", ["00", "10", "16", "24", "39", "47", "55", "72", "99"])
    def test_unknown_province(self, prefix: str) -> None:
        """A prefix that is no province-level division is rejected and quoted."""
        assert region_problem(prefix + "0000") == f"unknown province-level code '{prefix}'"

    def test_province_name_of_full_code(self) -> None:
        """province_name reads the province from a full code and refuses invalid ones."""
        assert province_name("440305") == "Guangdong"
        with pytest.raises(ValueError, match="unknown province-level code"):
            province_name("990000")
