"""Systems: API keys, stored only as hashes and compared in constant time.

A key reads `crmk_<id>_<secret>`. The keys file (JSON) holds, per id, the system's name, its
roles, the hash of the whole key (`sha256:<hex>`, or `hmac-sha256:<hex>` keyed with the
gateway's pepper) and whether it is revoked. The file is re-read when it changes, so a
revocation takes effect within API_KEYS_RELOAD_SECONDS without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crm_runtime.auth import Principal, Role
from crm_runtime.errors import Unauthenticated
from crm_runtime.logging import get_logger

log = get_logger("apikeys")

_KEY_RE = re.compile(r"^crmk_([a-z0-9-]{1,32})_([A-Za-z0-9_-]{20,128})$")
_NAME_RE = re.compile(r"^[a-z0-9-]{1,64}$")
# Compared against when the id is unknown, so that unknown and wrong keys take the same time.
_DUMMY_HASH = "sha256:" + "0" * 64


@dataclass(frozen=True, slots=True)
class ApiKeyEntry:
    """One stored key: its owner, roles, hash and state."""

    key_id: str
    system: str
    roles: frozenset[Role]
    digest: str
    revoked: bool = False

    def to_json(self) -> dict[str, Any]:
        """Return the entry as stored in the keys file."""
        return {
            "id": self.key_id,
            "system": self.system,
            "roles": sorted(str(r) for r in self.roles),
            "hash": self.digest,
            "revoked": self.revoked,
        }


def hash_key(key: str, *, pepper: bytes = b"") -> str:
    """Return the stored form of a key's hash."""
    if pepper:
        return "hmac-sha256:" + hmac.new(pepper, key.encode(), hashlib.sha256).hexdigest()
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def new_api_key(
    key_id: str, system: str, roles: Iterable[Role], *, pepper: bytes = b""
) -> tuple[str, ApiKeyEntry]:
    """Return a fresh key (shown once to its owner) and the entry to store for it."""
    if not _NAME_RE.match(key_id) or len(key_id) > 32 or not _NAME_RE.match(system):
        raise ValueError("key id and system are lower-case letters, digits and hyphens")
    key = f"crmk_{key_id}_{secrets.token_urlsafe(32)}"
    return key, ApiKeyEntry(key_id, system, frozenset(roles), hash_key(key, pepper=pepper))


def _entry(raw: Mapping[str, Any]) -> ApiKeyEntry:
    return ApiKeyEntry(
        key_id=str(raw["id"]),
        system=str(raw["system"]),
        roles=frozenset(Role(r) for r in raw.get("roles", [])),
        digest=str(raw["hash"]),
        revoked=bool(raw.get("revoked", False)),
    )


def read_keys_file(file: Path) -> list[ApiKeyEntry]:
    """Return the entries of a keys file (none when the file does not exist yet)."""
    if not file.exists():
        return []
    return [_entry(raw) for raw in json.loads(file.read_text()).get("keys", [])]


def write_keys_file(file: Path, entries: Iterable[ApiKeyEntry]) -> None:
    """Replace a keys file atomically: a gateway reloading it sees the old or the new whole."""
    document = {"keys": [e.to_json() for e in sorted(entries, key=lambda e: e.key_id)]}
    staging = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    staging.write_text(json.dumps(document, indent=2) + "\n")
    staging.chmod(0o600)
    staging.replace(file)


class ApiKeyStore:
    """Looks up callers by API key; reloads its file when the file changes."""

    def __init__(
        self, file: Path | None = None, *, pepper: bytes = b"", reload_seconds: float = 2.0
    ) -> None:
        self._file = file
        self._pepper = pepper
        self._reload = reload_seconds
        self._entries: dict[str, ApiKeyEntry] = {}
        self._mtime = 0.0
        self._next_check = 0.0
        if file is not None:
            self._load()

    def replace(self, entries: Iterable[ApiKeyEntry]) -> None:
        """Replace the stored keys (tests and tools that keep keys elsewhere)."""
        self._entries = {e.key_id: e for e in entries}

    def _load(self) -> None:
        assert self._file is not None
        mtime = self._file.stat().st_mtime
        document = json.loads(self._file.read_text())
        self.replace(_entry(raw) for raw in document.get("keys", []))
        self._mtime = mtime
        log.info("api keys loaded", count=len(self._entries))

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if self._file is None or now < self._next_check:
            return
        self._next_check = now + self._reload
        try:
            if self._file.stat().st_mtime != self._mtime:
                self._load()
        except (OSError, ValueError, KeyError) as exc:
            # Keep the previous keys rather than lock every system out on a bad edit.
            log.error("api keys file unreadable; keeping the previous keys", error=str(exc))

    def verify(self, key: str) -> Principal:
        """Return the system a key belongs to, or raise UNAUTHENTICATED."""
        self._maybe_reload()
        match = _KEY_RE.match(key)
        entry = self._entries.get(match.group(1)) if match else None
        expected = entry.digest if entry is not None else _DUMMY_HASH
        scheme = expected.partition(":")[0]
        pepper = self._pepper if scheme == "hmac-sha256" else b""
        matches = hmac.compare_digest(hash_key(key, pepper=pepper), expected)
        if entry is None or not matches or entry.revoked:
            raise Unauthenticated("API key not accepted", reason="CREDENTIALS_INVALID")
        return Principal(
            subject=f"systems/{entry.system}",
            roles=entry.roles,
            issuer="api-key",
            token_id=entry.key_id,
        )
