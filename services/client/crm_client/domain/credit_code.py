"""Validate and build unified social credit codes (统一社会信用代码, GB 32100-2015).

A code has 18 characters:

- position 1: registration authority (登记管理部门), position 2: organisation category;
- positions 3-8: administrative division of the registrar (GB/T 2260), digits only;
- positions 9-17: the 9-character organisation code (GB 11714), whose last character
  (position 17) is that code's own check character;
- position 18: check character over positions 1-17 (ISO 7064 MOD 31-3).

The validator is strict: it checks both position 17 and position 18. Every example
listed as valid in DOMAIN §1 (public codes such as ``914403001922038216`` and
``91440101MA5CJQ4N59``, and the synthetic ones) passes both checks, so the strict
org-code check needs no exception; the listed invalid example
``91350203M0001QAY9B`` fails only at position 18 (expected ``9``).

Positions 3-8 are not checked against the province table on purpose: codes issued by
national registrars carry division codes such as ``100000`` that are not provinces.
"""

from __future__ import annotations

import re
from typing import Final

from crm_runtime.formats import CREDIT_CODE_CHARSET, CREDIT_CODE_LENGTH

# Declared in the runtime, where the gateway's OpenAPI pattern reads them too.
CHARSET: Final = CREDIT_CODE_CHARSET
"""The 31 characters allowed in a credit code (no I, O, S, V, Z); index = value."""

CODE_LENGTH: Final = CREDIT_CODE_LENGTH

# ISO 7064 MOD 31-3 weights W_i = 3^i mod 31 for positions 1..17.
_CHECK_WEIGHTS: Final = tuple(pow(3, i, 31) for i in range(17))

# GB 11714 weights over the 8 body characters of the organisation code (positions 9-16).
_ORG_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)

_CHAR_VALUE: Final = {char: value for value, char in enumerate(CHARSET)}
_DIGITS: Final = frozenset("0123456789")
_PREFIX_RE: Final = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}\Z")
_ORG_BODY_RE: Final = re.compile(r"[0-9A-HJ-NPQRTUWXY]{8}\Z")

# Positions 1+2 → category, from DOMAIN §1. Codes not listed (19, 59, 39, 2x, 4x, …)
# map to "other": they never identify a corporate borrower, so no finer label is needed.
_REGISTRATION_CATEGORIES: Final[dict[str, str]] = {
    "91": "enterprise",
    "92": "individual_business",
    "93": "farmers_cooperative",
    "11": "government_body",
    "12": "public_institution",
    "13": "mass_organisation",
    "51": "social_organisation",
    "52": "private_non_enterprise_unit",
    "53": "foundation",
    "31": "law_firm",
    "35": "arbitration_commission",
    "N1": "rural_collective",
    "N2": "rural_collective",
    "N3": "rural_collective",
    "N9": "rural_collective",
}


def _org_code_value(char: str) -> int:
    """Return a character's value in GB 11714: digits 0-9, letters A-Z = 10-35."""
    # GB 11714 predates the credit-code alphabet and values letters by their place in
    # the full A-Z alphabet, not by their index in CHARSET (e.g. 'J' is 19, not 18).
    return int(char, 36)


def org_code_check_character(body8: str) -> str:
    """Return the GB 11714 check character for 8 organisation-code body characters.

    Raise ValueError unless ``body8`` is 8 credit-code characters.
    """
    if not _ORG_BODY_RE.match(body8):
        msg = "org-code body must be 8 credit-code characters"
        raise ValueError(msg)
    pairs = zip(body8, _ORG_WEIGHTS, strict=True)
    total = sum(_org_code_value(char) * weight for char, weight in pairs)
    check = 11 - total % 11
    if check == 10:
        return "X"
    if check == 11:
        return "0"
    return str(check)


def check_character(first17: str) -> str:
    """Return the MOD 31-3 check character (position 18) for the first 17 characters.

    Raise ValueError unless ``first17`` is 17 credit-code characters.
    """
    if len(first17) != CODE_LENGTH - 1 or not set(first17) <= _CHAR_VALUE.keys():
        msg = "need exactly 17 credit-code characters"
        raise ValueError(msg)
    pairs = zip(first17, _CHECK_WEIGHTS, strict=True)
    total = sum(_CHAR_VALUE[char] * weight for char, weight in pairs)
    return CHARSET[(31 - total % 31) % 31]


def credit_code_problem(code: str) -> str | None:
    """Return None if ``code`` is a valid credit code, else a short English reason.

    Lower-case input is rejected rather than folded: normalising is the caller's
    decision at the API edge, and a stored code must match the register exactly.
    """
    if len(code) != CODE_LENGTH:
        return f"must be {CODE_LENGTH} characters"
    for index, char in enumerate(code):
        position = index + 1
        if char not in _CHAR_VALUE:
            return f"invalid character at position {position}"
        if 3 <= position <= 8 and char not in _DIGITS:
            return f"invalid character at position {position}: expected a digit"
    expected_org = org_code_check_character(code[8:16])
    if code[16] != expected_org:
        return f"wrong organisation-code check at position 17: expected '{expected_org}'"
    expected = check_character(code[:17])
    if code[17] != expected:
        return f"wrong check character at position 18: expected '{expected}'"
    return None


def is_valid_credit_code(code: str) -> bool:
    """Return True if ``code`` passes every check of :func:`credit_code_problem`."""
    return credit_code_problem(code) is None


def make_credit_code(prefix8: str, org_body8: str) -> str:
    """Build a valid code from authority+category+division and 8 org-code characters.

    ``prefix8`` is positions 1-8 (two CHARSET characters then six digits, e.g.
    ``"91440300"``); ``org_body8`` is positions 9-16. Positions 17 and 18 are computed.
    Raise ValueError if either part is malformed.
    """
    if not _PREFIX_RE.match(prefix8):
        msg = "prefix8 must be 2 credit-code characters followed by 6 digits"
        raise ValueError(msg)
    if not _ORG_BODY_RE.match(org_body8):
        msg = "org_body8 must be 8 credit-code characters"
        raise ValueError(msg)
    # Both parts are checked above, so the helpers below cannot fail.
    first17 = prefix8 + org_body8 + org_code_check_character(org_body8)
    return first17 + check_character(first17)


def registration_category(code: str) -> str:
    """Return the registration category named by positions 1-2 (e.g. "enterprise" for 91).

    Only the first two characters are read, so the code need not be validated first.
    Unlisted prefixes give "other". Raise ValueError if the code is shorter than 2.
    """
    if len(code) < 2:
        msg = "credit code must have at least 2 characters"
        raise ValueError(msg)
    return _REGISTRATION_CATEGORIES.get(code[:2], "other")
