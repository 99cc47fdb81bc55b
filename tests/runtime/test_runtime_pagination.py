"""Page sizes and page tokens: coerced sizes, opaque and query-bound tokens, no forgery."""

from __future__ import annotations

import base64
import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_runtime.errors import InvalidArgument
from crm_runtime.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageTokens, page_size

QUERY = {"relationship_manager": "staff/rm-a", "order_by": "display_name"}
POSITION = {"after_name": "clients/position-canary-8842", "after_id": 987654321}


def _raw(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _rejected(tokens: PageTokens, token: str, query: object = QUERY) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        tokens.decode(token, query=query)
    return caught.value


class TestPageSize:
    @pytest.mark.parametrize(("requested", "effective"), [
        (0, DEFAULT_PAGE_SIZE), (1, 1), (50, 50), (499, 499), (500, 500),
        (501, MAX_PAGE_SIZE), (10_000, MAX_PAGE_SIZE), (2**31 - 1, MAX_PAGE_SIZE),
    ])
    def test_coercion(self, requested, effective):
        """0 means the default (50); above 500 means 500."""
        assert page_size(requested) == effective

    def test_default_and_max(self):
        """The limits are the documented ones."""
        assert (DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE) == (50, 500)

    @pytest.mark.parametrize("requested", [-1, -500, -(2**31)])
    def test_negative_is_invalid(self, requested):
        """A negative page size is INVALID_ARGUMENT naming the field."""
        with pytest.raises(InvalidArgument) as caught:
            page_size(requested, field="page_size")
        assert caught.value.reason == "INVALID_ARGUMENT"
        assert [v.field for v in caught.value.violations] == ["page_size"]


class TestPageTokens:
    def test_round_trip(self):
        """A token decodes to the position it was made from, for the same query."""
        tokens = PageTokens()
        assert tokens.decode(tokens.encode(POSITION, query=QUERY), query=QUERY) == POSITION

    def test_empty_token_means_first_page(self):
        """An empty token is the first page."""
        assert PageTokens().decode("", query=QUERY) is None

    def test_token_is_opaque(self):
        """Neither the token nor its base64 decoding shows the position or any JSON."""
        tokens = PageTokens()
        token = tokens.encode(POSITION, query=QUERY)
        raw = _raw(token)
        for secret in ("position-canary-8842", "987654321", "after_name"):
            assert secret not in token
            assert secret.encode() not in raw
        # Multi-byte markers only: single bytes such as "{" occur in ciphertext by chance.
        assert b'{"p"' not in raw
        assert b'"q":' not in raw
        with pytest.raises(ValueError):
            json.loads(raw)

    def test_same_position_gives_different_tokens(self):
        """Tokens are randomised, so equal positions cannot be recognised from outside."""
        tokens = PageTokens()
        assert tokens.encode(POSITION, query=QUERY) != tokens.encode(POSITION, query=QUERY)

    def test_tampered_token(self):
        """Changing any byte of a token makes it INVALID_ARGUMENT on page_token."""
        tokens = PageTokens()
        raw = _raw(tokens.encode(POSITION, query=QUERY))
        for index in (0, 11, 12, len(raw) // 2, len(raw) - 1):
            flipped = bytearray(raw)
            flipped[index] ^= 0x01
            error = _rejected(tokens, _encode(bytes(flipped)))
            assert error.reason == "INVALID_ARGUMENT"
            assert [v.field for v in error.violations] == ["page_token"]

    @pytest.mark.parametrize("token", ["x", "!!!!", "\u00e9t\u00e9", "AAAA", "A" * 40,
                                       "%%%", "====", "a.b.c"])
    def test_malformed_token(self, token):
        """Tokens that were never made by us are INVALID_ARGUMENT."""
        assert _rejected(PageTokens(), token).reason == "INVALID_ARGUMENT"

    def test_truncated_and_extended_token(self):
        """A token cut short or with bytes appended is refused."""
        tokens = PageTokens()
        raw = _raw(tokens.encode(POSITION, query=QUERY))
        _rejected(tokens, _encode(raw[:-1]))
        _rejected(tokens, _encode(raw[:20]))
        _rejected(tokens, _encode(raw + b"\x00"))

    def test_token_from_other_query(self):
        """A token reused with other filters is INVALID_ARGUMENT."""
        tokens = PageTokens()
        token = tokens.encode(POSITION, query=QUERY)
        other = {**QUERY, "relationship_manager": "staff/rm-b"}
        error = _rejected(tokens, token, query=other)
        assert [v.field for v in error.violations] == ["page_token"]
        _rejected(tokens, token, query=None)

    def test_token_from_other_key(self):
        """A token minted under another key (another deployment) is INVALID_ARGUMENT."""
        ours, theirs = PageTokens(os.urandom(32)), PageTokens(os.urandom(32))
        _rejected(ours, theirs.encode(POSITION, query=QUERY))

    def test_same_key_is_shared_between_replicas(self):
        """Two replicas configured with one key accept each other's tokens."""
        key = os.urandom(32)
        token = PageTokens(key).encode(POSITION, query=QUERY)
        assert PageTokens(key).decode(token, query=QUERY) == POSITION

    def test_query_key_order_does_not_matter(self):
        """The same filters given in another order are the same query."""
        tokens = PageTokens()
        token = tokens.encode(POSITION, query={"a": 1, "b": 2})
        assert tokens.decode(token, query={"b": 2, "a": 1}) == POSITION


JSON_SCALARS = (st.none() | st.booleans() | st.integers()
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30))
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12,
)
_TOKENS = PageTokens(os.urandom(32))


class TestPageTokenProperties:
    @settings(max_examples=200, deadline=None)
    @given(position=JSON_VALUES, query=JSON_VALUES)
    def test_round_trip_of_any_json_position(self, position, query):
        """Any JSON-able position comes back equal, and is not visible in the token."""
        token = _TOKENS.encode(position, query=query)
        assert _TOKENS.decode(token, query=query) == position
        visible = json.dumps(position).encode()
        if len(visible) >= 8:  # Shorter byte strings turn up in random ciphertext by chance.
            assert visible not in _raw(token)

    @settings(max_examples=200, deadline=None)
    @given(token=st.text(max_size=200))
    def test_arbitrary_text_never_crashes(self, token):
        """Any string as a token is either the first page or INVALID_ARGUMENT, nothing else."""
        try:
            result = _TOKENS.decode(token, query=QUERY)
        except InvalidArgument as error:
            assert [v.field for v in error.violations] == ["page_token"]
        else:
            assert token == ""
            assert result is None
