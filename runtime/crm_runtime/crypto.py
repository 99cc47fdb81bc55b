"""Encryption of personal data at rest (AES-256-GCM) and blind indexes for equality lookups."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_FORMAT_V1 = b"\x01"


def decode_key(value: str, *, name: str) -> bytes:
    """Decode a base64 32-byte key from configuration, failing fast when it is wrong."""
    try:
        key = base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise ValueError(f"{name} is not valid base64") from exc
    if len(key) != 32:
        raise ValueError(f"{name} must decode to 32 bytes")
    return key


def new_key() -> str:
    """Return a fresh base64 key, for development setups and tests."""
    return base64.b64encode(os.urandom(32)).decode()


class FieldCipher:
    """Encrypts single fields; the field's name is bound in as associated data.

    Binding the context means a ciphertext copied into another column does not decrypt.
    """

    def __init__(self, encryption_key: bytes, index_key: bytes) -> None:
        self._aead = AESGCM(encryption_key)
        self._index_key = index_key

    def encrypt(self, plaintext: str, *, context: str) -> bytes:
        """Return version byte + nonce + ciphertext for `plaintext`."""
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return _FORMAT_V1 + nonce + sealed

    def decrypt(self, blob: bytes, *, context: str) -> str:
        """Return the plaintext of a value produced by encrypt()."""
        if blob[:1] != _FORMAT_V1:
            raise ValueError("unknown ciphertext format")
        return self._aead.decrypt(blob[1:13], blob[13:], context.encode()).decode()

    def blind_index(self, value: str, *, context: str) -> str:
        """Return a keyed hash for finding equal values without storing them."""
        mac = hmac.new(self._index_key, context.encode() + b"\x00" + value.encode(), hashlib.sha256)
        return mac.hexdigest()
