"""Tests for unified social credit code validation and construction (GB 32100-2015)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_client.domain.credit_code import (
    CHARSET,
    check_character,
    credit_code_problem,
    is_valid_credit_code,
    make_credit_code,
    org_code_check_character,
    registration_category,
)

# DOMAIN §1: public codes and synthetic test codes, all listed as valid.
VALID_EXAMPLES = [
    "914403001922038216",
    "91440300708461136T",
    "91350200776049653A",
    "91440101MA5CJQ4N59",
    "91110108MA01B2C344",
    "91310115MA1K4L5N68",
    "91440300MA5F6G7HXC",
    "92330106MA2C8D9E2Y",
    "511100005000223373",
]

# GB 11714 values letters by their place in A-Z, which differs from the CHARSET index.
FULL_ALPHABET_VALUE = {char: int(char, 36) for char in CHARSET}

code_prefixes = st.builds(
    lambda head, digits: head + digits,
    st.text(alphabet=CHARSET, min_size=2, max_size=2),
    st.text(alphabet="0123456789", min_size=6, max_size=6),
)
org_bodies = st.text(alphabet=CHARSET, min_size=8, max_size=8)
valid_codes = st.builds(make_credit_code, code_prefixes, org_bodies)


class TestDomainExamples:
    @pytest.mark.parametrize("code", VALID_EXAMPLES)
    def test_listed_valid_codes_pass_both_checks(self, code: str) -> None:
        """Every DOMAIN example marked valid passes the strict position-17 and -18 checks."""
        assert credit_code_problem(code) is None
        assert is_valid_credit_code(code)

    def test_listed_invalid_code_fails_at_position_18(self) -> None:
        """The DOMAIN invalid example is rejected with the expected check character."""
        assert (
            credit_code_problem("91350203M0001QAY9B")
            == "wrong check character at position 18: expected '9'"
        )

    def test_corrected_invalid_code_validates(self) -> None:
        """Replacing the wrong check character with the expected one makes the code valid."""
        assert credit_code_problem("91350203M0001QAY99") is None


class TestProblems:
    @pytest.mark.parametrize("code", ["", "91440300MA5F6G7HX", "91440300MA5F6G7HXCC"])
    def test_wrong_length(self, code: str) -> None:
        """A code that is not 18 characters long is rejected for its length."""
        assert credit_code_problem(code) == "must be 18 characters"

    @pytest.mark.parametrize(
        ("code", "position"),
        [
            ("I1440300MA5F6G7HXC", 1),  # I is excluded from the alphabet
            ("91440300MA5F6G7HXO", 18),  # O is excluded
            ("91440300MA5S6G7HXC", 12),  # S is excluded
            ("91440300ma5f6g7hxc", 9),  # lower case is not folded
            ("91440300MA5F6G7H-C", 17),
        ],
    )
    def test_character_outside_alphabet(self, code: str, position: int) -> None:
        """A character outside CHARSET is reported with its 1-based position."""
        assert credit_code_problem(code) == f"invalid character at position {position}"

    def test_letter_in_division_part(self) -> None:
        """Positions 3-8 must be digits even though the letter is in CHARSET."""
        problem = credit_code_problem("9144A300MA5F6G7HXC")
        assert problem is not None
        assert problem.startswith("invalid character at position 5")

    def test_wrong_org_code_check(self) -> None:
        """A wrong position 17 is reported as an organisation-code error, not a MOD 31 one."""
        first17 = "91440300MA5F6G7H1"
        code = first17 + check_character(first17)  # position 18 is right for this body
        assert (
            credit_code_problem(code)
            == "wrong organisation-code check at position 17: expected 'X'"
        )


class TestCheckCharacters:
    def test_org_check_ten_maps_to_x(self) -> None:
        """A GB 11714 result of 10 is written as X."""
        assert org_code_check_character("MA5F6G7H") == "X"

    def test_org_check_eleven_maps_to_zero(self) -> None:
        """A GB 11714 weighted sum divisible by 11 gives 11, written as 0."""
        assert org_code_check_character("00000000") == "0"

    def test_org_check_values_letters_by_full_alphabet(self) -> None:
        """J counts as 19 (its A-Z value), not 18 (its CHARSET index)."""
        # 19 * 3 = 57; 57 mod 11 = 2; 11 - 2 = 9. With 18 it would be 1.
        assert org_code_check_character("J0000000") == "9"

    def test_mod31_weights_match_domain(self) -> None:
        """Position 18 uses weights 3^i mod 31, checked via one unit in each position."""
        weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
        for index, weight in enumerate(weights):
            first17 = "0" * index + "1" + "0" * (16 - index)
            assert check_character(first17) == CHARSET[(31 - weight) % 31]

    @pytest.mark.parametrize("bad", ["0" * 16, "0" * 18, "0" * 16 + "I"])
    def test_check_character_rejects_bad_input(self, bad: str) -> None:
        """The MOD 31-3 helper refuses anything but 17 CHARSET characters."""
        with pytest.raises(ValueError, match="17 credit-code characters"):
            check_character(bad)

    def test_org_check_rejects_bad_input(self) -> None:
        """The GB 11714 helper refuses anything but 8 CHARSET characters."""
        with pytest.raises(ValueError, match="8 credit-code characters"):
            org_code_check_character("MA5F6G7")


class TestMakeCreditCode:
    @pytest.mark.parametrize("code", VALID_EXAMPLES)
    def test_rebuilds_listed_examples(self, code: str) -> None:
        """Building from positions 1-16 reproduces each DOMAIN example exactly."""
        assert make_credit_code(code[:8], code[8:16]) == code

    @pytest.mark.parametrize(
        ("prefix8", "body8"),
        [
            ("9144030", "MA5F6G7H"),  # prefix too short
            ("91A40300", "MA5F6G7H"),  # letter in the division part
            ("I1440300", "MA5F6G7H"),  # I not allowed
            ("91440300", "MA5F6G7"),  # body too short
            ("91440300", "MA5F6G7O"),  # O not allowed
        ],
    )
    def test_rejects_malformed_parts(self, prefix8: str, body8: str) -> None:
        """Malformed prefixes or bodies raise ValueError instead of yielding a bad code."""
        with pytest.raises(ValueError, match="must be"):
            make_credit_code(prefix8, body8)

    @settings(max_examples=200, database=None)
    @given(prefix8=code_prefixes, body8=org_bodies)
    def test_output_always_validates(self, prefix8: str, body8: str) -> None:
        """Every generated code is 18 characters, keeps its inputs and passes validation."""
        code = make_credit_code(prefix8, body8)
        assert len(code) == 18
        assert code.startswith(prefix8 + body8)
        assert credit_code_problem(code) is None


class TestSingleCharacterErrors:
    @settings(max_examples=200, database=None)
    @given(
        code=valid_codes,
        index=st.integers(min_value=0, max_value=17),
        replacement=st.characters(codec="utf-8"),
    )
    def test_any_substitution_is_detected(self, code: str, index: int, replacement: str) -> None:
        """Changing any one character of a valid code always makes it invalid."""
        # MOD 31-3 over a prime modulus with non-zero weights catches every substitution
        # within CHARSET (value changes by 1..30, never a multiple of 31); characters
        # outside CHARSET fail the alphabet check. So "still valid" is impossible here.
        if replacement == code[index]:
            replacement = CHARSET[(CHARSET.index(code[index]) + 1) % len(CHARSET)]
        mutated = code[:index] + replacement + code[index + 1 :]
        assert credit_code_problem(mutated) is not None

    @settings(max_examples=200, database=None)
    @given(
        code=valid_codes,
        index=st.integers(min_value=8, max_value=15),
        replacement=st.sampled_from(CHARSET),
    )
    def test_org_check_catches_body_change_unless_value_shift_is_multiple_of_11(
        self, code: str, index: int, replacement: str
    ) -> None:
        """With position 18 recomputed, position 17 alone catches a body change iff Δ mod 11 ≠ 0."""
        if replacement == code[index]:
            return
        first17 = code[:index] + replacement + code[index + 1 : 17]
        mutated = first17 + check_character(first17)
        delta = FULL_ALPHABET_VALUE[replacement] - FULL_ALPHABET_VALUE[code[index]]
        # GB 11714 weights are all non-zero mod 11, so only a value shift that is a
        # multiple of 11 (e.g. '1' → 'C', 1 → 12) slips past the organisation-code check.
        if delta % 11 == 0:
            assert credit_code_problem(mutated) is None
        else:
            problem = credit_code_problem(mutated)
            assert problem is not None
            assert problem.startswith("wrong organisation-code check at position 17")


class TestRegistrationCategory:
    @pytest.mark.parametrize(
        ("code", "category"),
        [
            ("914403001922038216", "enterprise"),
            ("92330106MA2C8D9E2Y", "individual_business"),
            ("93330106MA2C8D9E2Y", "farmers_cooperative"),
            ("11110000000000000X", "government_body"),
            ("12110000000000000X", "public_institution"),
            ("13", "mass_organisation"),
            ("51", "social_organisation"),
            ("52", "private_non_enterprise_unit"),
            ("53", "foundation"),
            ("31", "law_firm"),
            ("35", "arbitration_commission"),
            ("N1", "rural_collective"),
            ("19", "other"),
            ("A1", "other"),
            ("Y1", "other"),
        ],
    )
    def test_categories_from_first_two_characters(self, code: str, category: str) -> None:
        """Positions 1-2 map to the DOMAIN §1 category, with "other" for unlisted ones."""
        assert registration_category(code) == category

    def test_too_short(self) -> None:
        """A code with fewer than two characters has no category."""
        with pytest.raises(ValueError, match="at least 2"):
            registration_category("9")
