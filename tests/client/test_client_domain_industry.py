"""Tests for GB/T 4754-2017 industry codes and their MIIT size-class sectors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_client.domain.industry import (
    MIIT_SECTOR_OF,
    SECTIONS,
    SECTIONS_BY_LETTER,
    WATCHLIST_DIVISIONS,
    IndustryCode,
    miit_sector_of,
    parse_industry,
    section_of,
)
from crm_client.domain.size_class import DEFAULT_SIZE_STANDARD, SIZE_STANDARDS

# DOMAIN §3, transcribed independently of the module's table.
EXPECTED_RANGES = {
    "A": (1, 5), "B": (6, 12), "C": (13, 43), "D": (44, 46), "E": (47, 50),
    "F": (51, 52), "G": (53, 60), "H": (61, 62), "I": (63, 65), "J": (66, 69),
    "K": (70, 70), "L": (71, 72), "M": (73, 75), "N": (76, 79), "O": (80, 82),
    "P": (83, 83), "Q": (84, 85), "R": (86, 90), "S": (91, 96), "T": (97, 97),
}  # fmt: skip


class TestSectionTable:
    def test_sections_and_ranges_match_domain(self) -> None:
        """Sections A-T appear in order with exactly the DOMAIN §3 division ranges."""
        actual = {s.letter: (s.first_division, s.last_division) for s in SECTIONS}
        assert list(actual) == list(EXPECTED_RANGES)
        assert actual == EXPECTED_RANGES

    def test_ranges_are_contiguous(self) -> None:
        """Divisions 01-97 are covered once each, with no gaps or overlaps."""
        covered = [n for s in SECTIONS for n in range(s.first_division, s.last_division + 1)]
        assert covered == list(range(1, 98))

    def test_official_names(self) -> None:
        """Reference tables carry the official full Chinese names."""
        assert SECTIONS_BY_LETTER["A"].name_zh == "农、林、牧、渔业"
        assert SECTIONS_BY_LETTER["D"].name_zh == "电力、热力、燃气及水生产和供应业"
        assert SECTIONS_BY_LETTER["I"].name_zh == "信息传输、软件和信息技术服务业"
        assert SECTIONS_BY_LETTER["K"].name_en == "Real estate"


class TestParseIndustry:
    @pytest.mark.parametrize(
        ("code", "expected"),
        [
            ("C", IndustryCode("C", None, None, None, "C")),
            ("C30", IndustryCode("C", "30", None, None, "C30")),
            ("30", IndustryCode("C", "30", None, None, "C30")),
            ("C301", IndustryCode("C", "30", "301", None, "C301")),
            ("301", IndustryCode("C", "30", "301", None, "C301")),
            ("C3011", IndustryCode("C", "30", "301", "3011", "C3011")),
            ("3011", IndustryCode("C", "30", "301", "3011", "C3011")),
            ("K7010", IndustryCode("K", "70", "701", "7010", "K7010")),
            ("01", IndustryCode("A", "01", None, None, "A01")),
            ("9700", IndustryCode("T", "97", "970", "9700", "T9700")),
            (" k7010 ", IndustryCode("K", "70", "701", "7010", "K7010")),
        ],
    )
    def test_accepted_forms(self, code: str, expected: IndustryCode) -> None:
        """Section, division, group and class codes parse with or without the letter."""
        assert parse_industry(code) == expected

    @pytest.mark.parametrize(
        ("code", "reason"),
        [
            ("", "must be a section letter"),
            ("C3", "must be a section letter"),
            ("C30111", "must be a section letter"),
            ("U", "must be a section letter"),
            ("30C", "must be a section letter"),
            ("C-30", "must be a section letter"),
            ("００", "must be a section letter"),
            ("00", "not in any GB/T 4754-2017 section"),
            ("98", "not in any GB/T 4754-2017 section"),
            ("9901", "not in any GB/T 4754-2017 section"),
            ("A3011", "belongs to section C"),
            ("K7110", "belongs to section L"),
            ("C12", "belongs to section B"),
        ],
    )
    def test_rejected_codes(self, code: str, reason: str) -> None:
        """Bad formats, unknown divisions and mismatched section letters raise ValueError."""
        with pytest.raises(ValueError, match=reason):
            parse_industry(code)

    @pytest.mark.parametrize(("code", "section"), [("3011", "C"), ("K70", "K"), ("06", "B")])
    def test_section_of(self, code: str, section: str) -> None:
        """section_of returns the letter implied by the division."""
        assert section_of(code) == section

    @settings(max_examples=200, database=None)
    @given(division=st.integers(min_value=1, max_value=97), tail=st.text("0123456789", max_size=2))
    def test_normalised_form_parses_to_itself(self, division: int, tail: str) -> None:
        """Parsing the normalised form gives the same code, and it carries the right letter."""
        parsed = parse_industry(f"{division:02d}{tail}")
        assert parse_industry(parsed.normalised) == parsed
        section = SECTIONS_BY_LETTER[parsed.section]
        assert section.first_division <= division <= section.last_division


class TestMiitSector:
    @pytest.mark.parametrize(
        ("code", "sector"),
        [
            ("A", "agriculture"), ("A0111", "agriculture"),
            ("B06", "industry"), ("C3011", "industry"), ("D4415", "industry"),
            ("E", "construction"), ("E4812", "construction"),
            ("F51", "wholesale"), ("5211", "retail"),
            ("G53", "transport"), ("G5810", "transport"),
            ("G59", "warehousing"), ("G6010", "postal"),
            ("H", "hotels_catering"), ("H6110", "hotels_catering"), ("62", "hotels_catering"),
            ("I63", "telecoms"), ("I6421", "telecoms"), ("I6510", "software_it"),
            ("K", "real_estate_development"), ("K70", "real_estate_development"),
            ("K701", "real_estate_development"), ("K7010", "real_estate_development"),
            ("K7020", "property_management"),
            ("K7030", "other"), ("K7040", "other"), ("K7090", "other"),
            ("L", "leasing_business_services"), ("L7211", "leasing_business_services"),
            ("J66", "other"), ("M73", "other"), ("P83", "other"), ("T97", "other"),
        ],
    )  # fmt: skip
    def test_sector_mapping(self, code: str, sector: str) -> None:
        """Industry codes map to the MIIT 2011 sector whose thresholds apply."""
        assert miit_sector_of(code) == sector
        assert MIIT_SECTOR_OF(code) == sector

    @pytest.mark.parametrize("code", ["F", "G", "I"])
    def test_split_sections_need_a_division(self, code: str) -> None:
        """A bare F, G or I is ambiguous between sectors and is refused."""
        with pytest.raises(ValueError, match="give a division"):
            miit_sector_of(code)

    def test_every_division_maps_to_a_configured_sector(self) -> None:
        """Every division 01-97 maps to a sector the default size standard defines."""
        sectors = SIZE_STANDARDS[DEFAULT_SIZE_STANDARD].sectors
        mapped = {miit_sector_of(f"{division:02d}") for division in range(1, 98)}
        assert mapped <= set(sectors)
        # Property management is reached only through its class, not a division.
        assert mapped | {"property_management"} == set(sectors)


class TestWatchlist:
    def test_watchlist_divisions_are_real_divisions(self) -> None:
        """Every watch-list key parses as a division of the section DOMAIN §3 gives it."""
        sections = {code: section_of(code) for code in WATCHLIST_DIVISIONS}
        assert sections == {"06": "B", "30": "C", "31": "C", "32": "C", "37": "C", "70": "K"}
        assert WATCHLIST_DIVISIONS["31"] == "steel"
        assert WATCHLIST_DIVISIONS["70"] == "real estate"
