"""Keyrings: configuration, key ids in ciphertexts and page tokens, legacy data still read."""

from __future__ import annotations

import base64
import json
import os
from typing import ClassVar

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crm_runtime.crypto import FieldCipher, MissingKeyError, ciphertext_key_id
from crm_runtime.errors import InvalidArgument
from crm_runtime.keyring import Keyring, KeyringError, new_key, parse_keyring
from crm_runtime.pagination import PageTokens

ID_NUMBER = "110105199003071239"
K1, K2 = os.urandom(32), os.urandom(32)
INDEX = os.urandom(32)


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


class TestConfiguration:
    def test_list_and_json_forms(self):
        """`kid:base64,kid:base64` and a JSON object configure the same ring."""
        listed = parse_keyring(f"k1:{_b64(K1)}, k2:{_b64(K2)}", "k2", name="PII_KEYRING")
        as_json = parse_keyring(json.dumps({"k1": _b64(K1), "k2": _b64(K2)}), "k2", name="R")
        assert listed == as_json == Keyring({"k1": K1, "k2": K2}, "k2")

    def test_single_key_settings_are_a_one_key_ring(self):
        """PII_ENCRYPTION_KEY alone is the ring {legacy}, active; nothing at all is None."""
        assert parse_keyring("", "", legacy=_b64(K1), name="R") == Keyring({"legacy": K1}, "legacy")
        assert parse_keyring("", "", name="R") is None

    def test_legacy_key_joins_a_ring_and_the_new_key_is_active(self):
        """During a first rotation the old single key stays readable beside the new ring."""
        ring = parse_keyring(f"k2:{_b64(K2)}", "", legacy=_b64(K1), name="R")
        assert ring == Keyring({"k2": K2, "legacy": K1}, "k2")

    # Ids from the expected message alone: the keys are random per run, and parallel
    # workers must collect the same test names.
    @pytest.mark.parametrize(("ring", "active", "message"), [
        (f"k1:{_b64(K1)},k2:{_b64(K2)}", "", "name the active one"),
        (f"k1:{_b64(K1)}", "k9", "not in the keyring"),
        (f"k1:{_b64(K1)},k1:{_b64(K2)}", "k1", "twice"),
        (f"bad id!:{_b64(K1)}", "", "key id"),
        (f"k1{_b64(K1)}", "", "key_id:base64"),
        ("k1:c2hvcnQ=", "", "32 bytes"),
        ("[1]", "", "JSON object"),
        ("", "k1", "given without PII_KEYRING"),
    ], ids=["no-active-id", "active-not-in-ring", "id-twice", "bad-id", "no-colon",
            "short-key", "json-not-object", "active-without-ring"])
    def test_mistakes_fail_fast_without_showing_keys(self, ring, active, message):
        """A wrong ring is refused at startup with a message naming the problem, not the key."""
        with pytest.raises(KeyringError if "bytes" not in message else ValueError) as caught:
            parse_keyring(ring, active, name="PII_KEYRING")
        assert message in str(caught.value)
        assert _b64(K1) not in str(caught.value)

    def test_a_different_legacy_key_in_the_ring_is_refused(self):
        """The ring's `legacy` entry and PII_ENCRYPTION_KEY cannot disagree."""
        with pytest.raises(KeyringError, match="different key"):
            parse_keyring(f"legacy:{_b64(K2)}", "", legacy=_b64(K1), name="R")


class TestCiphertexts:
    def test_ciphertext_names_its_key(self):
        """Each value carries the id of the key it was sealed with."""
        blob = FieldCipher(Keyring({"k1": K1}, "k1"), INDEX).encrypt(ID_NUMBER, context="c")
        assert ciphertext_key_id(blob) == "k1"
        assert ID_NUMBER.encode() not in blob

    def test_rotated_ring_reads_old_values_and_writes_new_key(self):
        """After rotating to k2, values under k1 still open; new values are under k2."""
        old = FieldCipher(Keyring({"k1": K1}, "k1"), INDEX).encrypt(ID_NUMBER, context="c")
        rotated = FieldCipher(Keyring({"k1": K1, "k2": K2}, "k2"), INDEX)
        assert rotated.decrypt(old, context="c") == ID_NUMBER
        assert rotated.needs_reencryption(old)
        fresh = rotated.encrypt(ID_NUMBER, context="c")
        assert ciphertext_key_id(fresh) == "k2"
        assert not rotated.needs_reencryption(fresh)
        assert not rotated.needs_reencryption(b"")

    def test_v1_values_open_with_the_legacy_key(self):
        """Values written before key ids (0x01, nonce, sealed) are read by the legacy key."""
        nonce = os.urandom(12)
        v1 = b"\x01" + nonce + AESGCM(K1).encrypt(nonce, ID_NUMBER.encode(), b"c")
        ring = parse_keyring(f"k2:{_b64(K2)}", "", legacy=_b64(K1), name="R")
        assert ring is not None
        cipher = FieldCipher(ring, INDEX)
        assert ciphertext_key_id(v1) == "legacy"
        assert cipher.decrypt(v1, context="c") == ID_NUMBER
        assert cipher.needs_reencryption(v1)

    def test_retired_key_is_reported_not_guessed(self):
        """A value under a key the ring lacks fails with the key id, not a garbled result."""
        old = FieldCipher(Keyring({"k1": K1}, "k1"), INDEX).encrypt(ID_NUMBER, context="c")
        with pytest.raises(MissingKeyError, match="'k1'"):
            FieldCipher(Keyring({"k2": K2}, "k2"), INDEX).decrypt(old, context="c")

    def test_blind_index_does_not_depend_on_the_ring(self):
        """Rotating the encryption key keeps equality lookups working."""
        before = FieldCipher(Keyring({"k1": K1}, "k1"), INDEX).blind_index(ID_NUMBER, context="i")
        after = FieldCipher(Keyring({"k2": K2}, "k2"), INDEX).blind_index(ID_NUMBER, context="i")
        assert before == after


class TestPageTokens:
    QUERY: ClassVar[dict[str, str]] = {"parent": "clients/1"}

    def test_open_pages_survive_a_rotation(self):
        """A token made under k1 still resumes after the ring rotates to k2."""
        token = PageTokens(Keyring({"k1": K1}, "k1")).encode(42, query=self.QUERY)
        rotated = PageTokens(Keyring({"k1": K1, "k2": K2}, "k2"))
        assert rotated.decode(token, query=self.QUERY) == 42
        assert rotated.decode(rotated.encode(7, query=self.QUERY), query=self.QUERY) == 7

    def test_tokens_from_before_key_ids_still_open(self):
        """A token in the old format (nonce, sealed) opens with the legacy key."""
        nonce = os.urandom(12)
        plain = PageTokens._query_hash(self.QUERY)
        sealed = AESGCM(K1).encrypt(nonce, json.dumps({"p": 5, "q": plain}).encode(), None)
        old = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        assert PageTokens(K1).decode(old, query=self.QUERY) == 5

    def test_token_under_a_retired_key_is_invalid_argument(self):
        """Once k1 leaves the ring, its tokens are INVALID_ARGUMENT (the caller starts over)."""
        token = PageTokens(Keyring({"k1": K1}, "k1")).encode(42, query=self.QUERY)
        with pytest.raises(InvalidArgument):
            PageTokens(Keyring({"k2": K2}, "k2")).decode(token, query=self.QUERY)

    def test_new_key_is_a_valid_ring_entry(self):
        """`new_key()` output can be put in a ring as is."""
        assert parse_keyring(f"k3:{new_key()}", "", name="R") is not None
