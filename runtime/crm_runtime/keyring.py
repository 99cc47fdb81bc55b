"""Keyrings: several keys, each named by a key id, one of them active for new writes.

A keyring is configured as JSON (`{"k2": "<base64>", "k1": "<base64>"}`) or as
`k2:<base64>,k1:<base64>`, with the active key id beside it. The older single-key settings
(PII_ENCRYPTION_KEY, PAGE_TOKEN_KEY) still work: their key joins the ring under the id
`legacy`, which is also the key that reads ciphertexts written before key ids existed.
Rotation is then: add a key, make it active, let re-encryption move every row onto it, and
remove the old key from the ring (docs/KUBERNETES.md, "Keys and rotation").
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

LEGACY_KEY_ID = "legacy"
# Key ids travel inside every ciphertext (one length byte, then the id), so they stay short.
_KEY_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,32}$")


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
    """Return a fresh base64 key, for development setups, tests and `crm_admin keys`."""
    return base64.b64encode(os.urandom(32)).decode()


class KeyringError(ValueError):
    """The keyring configuration is wrong, or data needs a key the ring does not hold."""


@dataclass(frozen=True)
class Keyring:
    """Keys by id and the id of the one new data is written under."""

    keys: Mapping[str, bytes]
    active: str

    def __post_init__(self) -> None:
        if self.active not in self.keys:
            raise KeyringError(f"active key id {self.active!r} is not in the keyring")

    @property
    def active_key(self) -> bytes:
        """Return the key new data is written under."""
        return self.keys[self.active]

    @classmethod
    def single(cls, key: bytes, key_id: str = LEGACY_KEY_ID) -> Keyring:
        """Return a ring of one key, active."""
        return cls({key_id: key}, key_id)


def check_key_id(key_id: str) -> str:
    """Return `key_id` if it is a valid key id, else raise KeyringError."""
    if not _KEY_ID_RE.match(key_id):
        raise KeyringError(
            f"key id {key_id!r} must be 1-32 letters, digits, dots, hyphens or underscores"
        )
    return key_id


def _entries(ring: str, name: str) -> dict[str, str]:
    text = ring.strip()
    if text.startswith(("{", "[")):
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise KeyringError(f"{name} is not valid JSON") from exc
        if not isinstance(document, dict):
            raise KeyringError(f"{name} must be a JSON object of key id to base64 key")
        return {str(k): str(v) for k, v in document.items()}
    entries: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key_id, sep, value = item.partition(":")
        if not sep:
            raise KeyringError(f"{name} entry is not key_id:base64")
        if key_id.strip() in entries:
            raise KeyringError(f"{name} names key id {key_id.strip()!r} twice")
        entries[key_id.strip()] = value.strip()
    return entries


def parse_keyring(ring: str, active: str, *, legacy: str = "", name: str) -> Keyring | None:
    """Return the keyring configured by `ring`, `active` and the single `legacy` key.

    `name` is the ring's variable name, for error messages (never the keys themselves).
    Returns None when nothing is configured; the caller decides whether that is allowed.
    """
    keys = {
        check_key_id(key_id): decode_key(value, name=f"{name}[{key_id}]")
        for key_id, value in _entries(ring, name).items()
    }
    if legacy:
        legacy_key = decode_key(legacy, name=f"{name} legacy key")
        if keys.get(LEGACY_KEY_ID, legacy_key) != legacy_key:
            raise KeyringError(f"{name} holds a different key under the id {LEGACY_KEY_ID!r}")
        keys[LEGACY_KEY_ID] = legacy_key
    if not keys:
        if active:
            raise KeyringError(f"active key id {active!r} given without {name}")
        return None
    if not active:
        # Only an unambiguous ring may leave the active id unsaid: one key, or one key
        # besides the legacy one (which is never chosen for writing by default).
        named = [k for k in keys if k != LEGACY_KEY_ID] or [LEGACY_KEY_ID]
        if len(named) != 1:
            raise KeyringError(f"{name} holds several keys: name the active one")
        active = named[0]
    return Keyring(keys, check_key_id(active))
