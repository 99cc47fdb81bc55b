"""Tests for one-time answer tokens: round trip, forgery and foreign tokens."""

from __future__ import annotations

import base64
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_feedback.domain.tokens import TokenClaims, mint_token, verify_token

SECRET = b"k" * 32
OTHER_SECRET = b"q" * 32


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TestRoundTrip:
    def test_valid_token_yields_its_claims(self) -> None:
        """A freshly minted token verifies to its dispatch and recipient."""
        token = mint_token(SECRET, "dispatches/42", "clients/7")
        assert verify_token(SECRET, token) == TokenClaims("dispatches/42", "clients/7")

    def test_token_is_url_safe_and_shows_the_dispatch(self) -> None:
        """The token uses only URL-safe characters and carries the dispatch id."""
        token = mint_token(SECRET, "d-1", "r-1")
        url_safe = set(string.ascii_letters + string.digits + "-_.")
        assert set(token) <= url_safe
        version, payload, _ = token.split(".")
        assert version == "v1"
        assert base64.urlsafe_b64decode(payload + "==").split(b"\x00")[0] == b"d-1"

    def test_minting_is_deterministic(self) -> None:
        """The same inputs give the same token, so re-sending a link is harmless."""
        assert mint_token(SECRET, "d", "r") == mint_token(SECRET, "d", "r")

    @settings(max_examples=200)
    @given(
        st.text(min_size=1, max_size=60).filter(lambda s: "\x00" not in s),
        st.text(min_size=1, max_size=60).filter(lambda s: "\x00" not in s),
    )
    def test_any_ids_round_trip(self, dispatch_id: str, recipient_id: str) -> None:
        """Any non-NUL unicode ids survive minting and verification."""
        token = mint_token(SECRET, dispatch_id, recipient_id)
        assert verify_token(SECRET, token) == TokenClaims(dispatch_id, recipient_id)


class TestForgery:
    def test_token_from_another_secret_is_rejected(self) -> None:
        """A token minted with a foreign secret does not verify."""
        assert verify_token(SECRET, mint_token(OTHER_SECRET, "d", "r")) is None

    def test_changed_dispatch_id_is_rejected(self) -> None:
        """Re-targeting a token to another dispatch breaks the MAC."""
        _, _, mac = mint_token(SECRET, "d-1", "r-1").split(".")
        forged = f"v1.{b64(b'd-2' + bytes([0]) + b'r-1')}.{mac}"
        assert verify_token(SECRET, forged) is None

    def test_spliced_tokens_are_rejected(self) -> None:
        """One token's payload with another token's MAC does not verify."""
        _, payload_a, _ = mint_token(SECRET, "d-1", "r-1").split(".")
        _, _, mac_b = mint_token(SECRET, "d-2", "r-2").split(".")
        assert verify_token(SECRET, f"v1.{payload_a}.{mac_b}") is None

    def test_mac_over_payload_without_secret_is_rejected(self) -> None:
        """A MAC an attacker can compute (plain SHA-256) is not accepted."""
        import hashlib

        payload = b"d-1" + bytes([0]) + b"r-1"
        forged = f"v1.{b64(payload)}.{b64(hashlib.sha256(payload).digest())}"
        assert verify_token(SECRET, forged) is None

    @pytest.mark.parametrize(
        "mangle",
        [
            lambda t: t[:-1],
            lambda t: t + "A",
            lambda t: "v2" + t[2:],
            lambda t: t.replace(".", "", 1),
            lambda t: t + ".extra",
            lambda t: t.replace("-", "+").replace("_", "/") + "==",
            lambda t: "",
            lambda t: "v1..",
            lambda t: "v1." + "A" * 2000 + ".x",
        ],
    )
    def test_malformed_tokens_are_rejected(self, mangle: object) -> None:
        """Truncated, extended, re-versioned or garbage tokens return None."""
        token = mint_token(SECRET, "dispatch-9", "recipient-9")
        assert callable(mangle)
        assert verify_token(SECRET, mangle(token)) is None

    def test_non_canonical_base64_is_rejected(self) -> None:
        """Flipping unused padding bits gives a different string that must not verify."""
        token = mint_token(SECRET, "d", "r")  # payload of 3 bytes: 4 chars, no spare bits
        version, payload, mac = token.split(".")
        # The 32-byte MAC encodes to 43 chars; its last char carries 2 unused bits.
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        last = alphabet.index(mac[-1])
        twin = mac[:-1] + alphabet[last ^ 1]
        assert base64.urlsafe_b64decode(twin + "=") == base64.urlsafe_b64decode(mac + "=")
        assert verify_token(SECRET, f"{version}.{payload}.{twin}") is None


class TestInputs:
    def test_short_secret_is_refused(self) -> None:
        """Secrets under 32 bytes raise for both minting and verifying."""
        with pytest.raises(ValueError, match="secret"):
            mint_token(b"short", "d", "r")
        with pytest.raises(ValueError, match="secret"):
            verify_token(b"short", "v1.x.y")

    @pytest.mark.parametrize(("dispatch_id", "recipient_id"), [("", "r"), ("d", "a\x00b"),
                                                               ("d" * 201, "r")])
    def test_bad_ids_are_refused(self, dispatch_id: str, recipient_id: str) -> None:
        """Empty, NUL-containing or overlong ids cannot be minted."""
        with pytest.raises(ValueError, match="must be"):
            mint_token(SECRET, dispatch_id, recipient_id)
