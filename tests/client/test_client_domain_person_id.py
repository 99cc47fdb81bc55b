"""Tests for resident ID (GB 11643-1999) and mobile-number validation."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_client.domain.person_id import (
    MOBILE_RE,
    birth_date_from_id,
    gender_from_id,
    id_check_character,
    make_person_id,
    mobile_problem,
    person_id_problem,
)

TODAY = datetime.date(2025, 6, 1)

# DOMAIN §8: two examples from the standard and three synthetic ones.
EXAMPLES = [
    ("11010519491231002X", datetime.date(1949, 12, 31), "female"),
    ("440524188001010014", datetime.date(1880, 1, 1), "male"),
    ("110105199003071239", datetime.date(1990, 3, 7), "male"),
    ("310115198511204566", datetime.date(1985, 11, 20), "female"),
    ("44030519920615789X", datetime.date(1992, 6, 15), "male"),
]


class TestPersonIdExamples:
    @pytest.mark.parametrize(("value", "birth", "gender"), EXAMPLES)
    def test_examples_are_valid(self, value: str, birth: datetime.date, gender: str) -> None:
        """Each DOMAIN example validates and yields its birth date and gender."""
        assert person_id_problem(value, today=TODAY) is None
        assert birth_date_from_id(value) == birth
        assert gender_from_id(value) == gender

    def test_mod11_weights_match_domain(self) -> None:
        """The check uses weights 7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2 and "10X98765432"."""
        weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
        for index, weight in enumerate(weights):
            first17 = "0" * index + "1" + "0" * (16 - index)
            assert id_check_character(first17) == "10X98765432"[weight % 11]


class TestPersonIdProblems:
    @pytest.mark.parametrize("value", ["", "110105490307123", "1101051990030712390"])
    def test_wrong_length(self, value: str) -> None:
        """Legacy 15-digit numbers and other lengths are rejected for their length."""
        assert person_id_problem(value, today=TODAY) == "must be 18 characters"

    @pytest.mark.parametrize(
        ("value", "position"),
        [
            ("A10105199003071239", 1),
            ("1101051990030712X9", 17),
            ("11010519491231002x", 18),  # lower-case x is not folded
            ("11010519491231002Y", 18),
            ("１10105199003071239", 1),  # full-width digit
        ],
    )
    def test_invalid_character(self, value: str, position: int) -> None:
        """Non-digits (other than a final upper-case X) are reported by position."""
        assert person_id_problem(value, today=TODAY) == f"invalid character at position {position}"

    @pytest.mark.parametrize("birth", ["19490230", "19491301", "19490001", "00000101"])
    def test_impossible_birth_date(self, birth: str) -> None:
        """A birth date that is not a real calendar date is rejected."""
        first17 = "110105" + birth + "123"
        value = first17 + id_check_character(first17)
        problem = person_id_problem(value, today=TODAY)
        assert problem == "invalid birth date"
        assert birth not in problem  # Issue 11, defect 12: the error names no personal data.

    def test_future_birth_date(self) -> None:
        """A birth date after today is rejected; today itself is accepted."""
        tomorrow = make_person_id("110105", TODAY + datetime.timedelta(days=1), 123)
        born_today = make_person_id("110105", TODAY, 123)
        problem = person_id_problem(tomorrow, today=TODAY)
        assert problem == "birth date is in the future"
        assert "2025" not in problem  # Issue 11, defect 12: the error names no personal data.
        assert person_id_problem(born_today, today=TODAY) is None

    def test_wrong_check_character(self) -> None:
        """A wrong final character is reported with the expected one."""
        assert (
            person_id_problem("110105199003071230", today=TODAY)
            == "wrong check character at position 18: expected '9'"
        )

    def test_extractors_reject_invalid_numbers(self) -> None:
        """Birth date and gender are only read from numbers that validate."""
        with pytest.raises(ValueError, match="wrong check character"):
            birth_date_from_id("110105199003071230")
        with pytest.raises(ValueError, match="must be 18"):
            gender_from_id("110105900307123")


class TestMakePersonId:
    def test_rebuilds_standard_example(self) -> None:
        """Building from area, birth date and sequence reproduces the standard's example."""
        assert make_person_id("110105", datetime.date(1949, 12, 31), 2) == "11010519491231002X"

    @pytest.mark.parametrize(
        ("area6", "sequence3"), [("11010", 1), ("11010A", 1), ("110105", -1), ("110105", 1000)]
    )
    def test_rejects_bad_inputs(self, area6: str, sequence3: int) -> None:
        """A malformed area code or out-of-range sequence raises ValueError."""
        with pytest.raises(ValueError, match="must be"):
            make_person_id(area6, datetime.date(1990, 1, 1), sequence3)

    @settings(max_examples=200, database=None)
    @given(
        area6=st.text(alphabet="0123456789", min_size=6, max_size=6),
        birth=st.dates(min_value=datetime.date(1900, 1, 1), max_value=TODAY),
        sequence3=st.integers(min_value=0, max_value=999),
    )
    def test_round_trips_birth_date_and_gender(
        self, area6: str, birth: datetime.date, sequence3: int
    ) -> None:
        """Generated numbers validate and give back the birth date and sequence parity."""
        value = make_person_id(area6, birth, sequence3)
        assert person_id_problem(value, today=TODAY) is None
        assert value[:6] == area6
        assert birth_date_from_id(value) == birth
        assert gender_from_id(value) == ("male" if sequence3 % 2 else "female")

    @settings(max_examples=200, database=None)
    @given(
        birth=st.dates(min_value=datetime.date(1900, 1, 1), max_value=TODAY),
        sequence3=st.integers(min_value=0, max_value=999),
        index=st.integers(min_value=0, max_value=17),
        shift=st.integers(min_value=1, max_value=9),
    )
    def test_single_digit_change_is_detected(
        self, birth: datetime.date, sequence3: int, index: int, shift: int
    ) -> None:
        """Changing any one digit of a valid number makes it invalid (MOD 11-2 catches it)."""
        value = make_person_id("110105", birth, sequence3)
        original = 0 if value[index] == "X" else int(value[index])
        replacement = str((original + shift) % 10)  # always differs from the original
        mutated = value[:index] + replacement + value[index + 1 :]
        assert person_id_problem(mutated, today=TODAY) is not None


class TestMobile:
    @pytest.mark.parametrize("value", ["13812345678", "19912345678", "16600000000"])
    def test_valid_numbers(self, value: str) -> None:
        """Eleven digits starting 13-19 are valid mobile numbers."""
        assert mobile_problem(value) is None
        assert MOBILE_RE.match(value)

    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            ("1381234567", "must be 11 digits"),
            ("138123456789", "must be 11 digits"),
            ("+8613812345678", "must be 11 digits"),
            ("13812345678\n", "must be 11 digits"),
            ("１３８１２３４５６７８", "must be 11 digits"),  # full-width digits
            ("12812345678", "must start with 1 followed by a digit from 3 to 9"),
            ("23812345678", "must start with 1 followed by a digit from 3 to 9"),
        ],
    )
    def test_invalid_numbers(self, value: str, reason: str) -> None:
        """Wrong lengths, prefixes, trailing newlines and non-ASCII digits are rejected."""
        assert mobile_problem(value) == reason
        assert MOBILE_RE.match(value) is None
