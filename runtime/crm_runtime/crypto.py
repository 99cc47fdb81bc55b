"""Encryption of personal data at rest (AES-256-GCM) and blind indexes for equality lookups.

Ciphertext formats:
- v2 (written now): 0x02, the key id's length (one byte), the key id, nonce, sealed data. The
  key id says which key of the ring opens it, so keys can be rotated while old rows remain.
- v1 (written before key ids): 0x01, nonce, sealed data; opened by the ring's `legacy` key.

The blind index has its own key, outside the ring: re-keying it means recomputing every
index from the plaintext, a separate and rarer operation (docs/KUBERNETES.md).
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crm_runtime.keyring import LEGACY_KEY_ID, Keyring, KeyringError, decode_key, new_key

# decode_key and new_key moved to crm_runtime.keyring; callers may still import them here.
__all__ = [
    "FieldCipher", "MissingKeyError", "ciphertext_key_id", "decode_key", "key_header", "new_key",
]

_FORMAT_V1 = b"\x01"
_FORMAT_V2 = b"\x02"
_NONCE = 12


class MissingKeyError(KeyringError):
    """A ciphertext names a key id the ring does not hold (retired too early)."""


def key_header(key_id: str) -> bytes:
    """Return the bytes every v2 ciphertext under `key_id` starts with."""
    raw = key_id.encode()
    return _FORMAT_V2 + bytes([len(raw)]) + raw


def ciphertext_key_id(blob: bytes) -> str:
    """Return the id of the key a ciphertext was written under (`legacy` for v1)."""
    if blob[:1] == _FORMAT_V1:
        return LEGACY_KEY_ID
    if blob[:1] == _FORMAT_V2 and len(blob) > 2:
        return blob[2 : 2 + blob[1]].decode(errors="replace")
    raise ValueError("unknown ciphertext format")


class FieldCipher:
    """Encrypts single fields; the field's name is bound in as associated data.

    Binding the context means a ciphertext copied into another column does not decrypt.
    """

    def __init__(self, encryption: bytes | Keyring, index_key: bytes) -> None:
        self.keyring = encryption if isinstance(encryption, Keyring) else Keyring.single(encryption)
        self._aeads = {kid: AESGCM(key) for kid, key in self.keyring.keys.items()}
        self._active_header = key_header(self.keyring.active)
        self._index_key = index_key

    @property
    def active_key_id(self) -> str:
        """Return the id of the key new ciphertexts are written under."""
        return self.keyring.active

    def encrypt(self, plaintext: str, *, context: str) -> bytes:
        """Return header + nonce + ciphertext for `plaintext`, under the active key."""
        nonce = os.urandom(_NONCE)
        sealed = self._aeads[self.keyring.active].encrypt(
            nonce, plaintext.encode(), context.encode()
        )
        return self._active_header + nonce + sealed

    def decrypt(self, blob: bytes, *, context: str) -> str:
        """Return the plaintext of a value produced by encrypt(), under any key of the ring."""
        key_id = ciphertext_key_id(blob)
        body = blob[1:] if blob[:1] == _FORMAT_V1 else blob[2 + blob[1] :]
        aead = self._aeads.get(key_id)
        if aead is None:
            raise MissingKeyError(f"ciphertext is under key id {key_id!r}, not in the keyring")
        return aead.decrypt(body[:_NONCE], body[_NONCE:], context.encode()).decode()

    def needs_reencryption(self, blob: bytes) -> bool:
        """Return True if `blob` is not under the active key (empty values never are)."""
        return bool(blob) and not blob.startswith(self._active_header)

    def blind_index(self, value: str, *, context: str) -> str:
        """Return a keyed hash for finding equal values without storing them."""
        mac = hmac.new(self._index_key, context.encode() + b"\x00" + value.encode(), hashlib.sha256)
        return mac.hexdigest()
