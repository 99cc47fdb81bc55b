"""Field encryption and blind indexes: round trip, context binding, keyed determinism."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.exceptions import InvalidTag
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_runtime.crypto import FieldCipher, decode_key, new_key

ID_NUMBER = "110105199003071239"


def _cipher(encryption: bytes | None = None, index: bytes | None = None) -> FieldCipher:
    return FieldCipher(encryption or os.urandom(32), index or os.urandom(32))


class TestEncryption:
    def test_round_trip(self):
        """What is encrypted under a context decrypts to the same text under it."""
        cipher = _cipher()
        blob = cipher.encrypt(ID_NUMBER, context="key_person.id_number")
        assert cipher.decrypt(blob, context="key_person.id_number") == ID_NUMBER

    def test_ciphertext_hides_plaintext_and_is_randomised(self):
        """The stored bytes do not contain the value, and two encryptions differ."""
        cipher = _cipher()
        first = cipher.encrypt(ID_NUMBER, context="c")
        second = cipher.encrypt(ID_NUMBER, context="c")
        assert ID_NUMBER.encode() not in first
        assert first != second
        assert first[:1] == b"\x02"  # v2: the key id follows (test_runtime_keyring).

    def test_other_context_fails(self):
        """A ciphertext moved to another column (context) does not decrypt."""
        cipher = _cipher()
        blob = cipher.encrypt(ID_NUMBER, context="key_person.id_number")
        with pytest.raises(InvalidTag):
            cipher.decrypt(blob, context="key_person.mobile_number")

    def test_other_key_fails(self):
        """Another encryption key cannot decrypt."""
        index = os.urandom(32)
        blob = _cipher(index=index).encrypt(ID_NUMBER, context="c")
        with pytest.raises(InvalidTag):
            _cipher(index=index).decrypt(blob, context="c")

    def test_tampering_fails(self):
        """Any flipped bit in the nonce or ciphertext is detected."""
        cipher = _cipher()
        blob = bytearray(cipher.encrypt(ID_NUMBER, context="c"))
        header = 2 + len("legacy")  # Version, key id length, key id; then the nonce.
        for index in (header, header + 11, header + 12, len(blob) - 1):
            tampered = bytearray(blob)
            tampered[index] ^= 0x80
            with pytest.raises(InvalidTag):
                cipher.decrypt(bytes(tampered), context="c")

    def test_unknown_format_rejected(self):
        """A blob without the version byte is refused before decryption."""
        cipher = _cipher()
        blob = cipher.encrypt(ID_NUMBER, context="c")
        with pytest.raises(ValueError, match="format"):
            cipher.decrypt(b"\x07" + blob[1:], context="c")
        with pytest.raises(ValueError, match="format"):
            cipher.decrypt(b"", context="c")

    @settings(max_examples=100, deadline=None)
    @given(text=st.text(max_size=200), context=st.text(max_size=40))
    def test_round_trip_property(self, text, context):
        """Any text, any context: decrypt(encrypt(x)) == x."""
        cipher = _cipher(b"k" * 32, b"i" * 32)
        assert cipher.decrypt(cipher.encrypt(text, context=context), context=context) == text


class TestBlindIndex:
    def test_deterministic_per_key(self):
        """The same value, context and key always give the same index."""
        key = os.urandom(32)
        first = _cipher(index=key).blind_index(ID_NUMBER, context="id_number")
        second = _cipher(index=key).blind_index(ID_NUMBER, context="id_number")
        assert first == second
        assert ID_NUMBER not in first
        assert len(first) == 64

    def test_differs_between_keys(self):
        """Another index key gives another index (no cross-deployment correlation)."""
        assert _cipher().blind_index(ID_NUMBER, context="id") != _cipher().blind_index(
            ID_NUMBER, context="id")

    def test_differs_between_values_and_contexts(self):
        """Different values, or the same value in another context, index differently."""
        cipher = _cipher()
        base = cipher.blind_index(ID_NUMBER, context="id")
        assert cipher.blind_index("110105199003071247", context="id") != base
        assert cipher.blind_index(ID_NUMBER, context="mobile") != base

    def test_context_separator_prevents_ambiguity(self):
        """Shifting characters between context and value changes the index."""
        cipher = _cipher()
        assert cipher.blind_index("bc", context="a") != cipher.blind_index("c", context="ab")

    def test_independent_of_encryption_key(self):
        """The index depends on the index key only, so re-encryption keeps lookups working."""
        index = os.urandom(32)
        assert _cipher(index=index).blind_index("v", context="c") == _cipher(
            index=index).blind_index("v", context="c")


class TestKeys:
    def test_decode_valid_key(self):
        """A base64 32-byte key decodes to its bytes; new_key makes such keys."""
        raw = os.urandom(32)
        assert decode_key(base64.b64encode(raw).decode(), name="PII_ENCRYPTION_KEY") == raw
        assert len(decode_key(new_key(), name="k")) == 32
        assert new_key() != new_key()

    @pytest.mark.parametrize("length", [0, 1, 16, 24, 31, 33, 64])
    def test_wrong_length_rejected(self, length):
        """Keys that do not decode to exactly 32 bytes are refused, naming the setting."""
        value = base64.b64encode(os.urandom(length)).decode()
        with pytest.raises(ValueError, match="PII_INDEX_KEY"):
            decode_key(value, name="PII_INDEX_KEY")

    @pytest.mark.parametrize("value", ["not base64!", "abc", "====", "é" * 44])
    def test_not_base64_rejected(self, value):
        """Values that are not base64 are refused, naming the setting."""
        with pytest.raises(ValueError, match="PII_ENCRYPTION_KEY"):
            decode_key(value, name="PII_ENCRYPTION_KEY")
