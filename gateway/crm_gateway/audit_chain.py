"""The audit log's hash chain: how a record is hashed and linked to its predecessor.

One definition shared by the writer (which chains records as it inserts them) and the
verifier (which recomputes every hash and link): the fields a record hash covers are listed
once, here.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

# The key when AUDIT_CHAIN_KEY is not set: a public constant, so the chain still shows edits,
# but someone with write access to the store could rebuild a whole chain (docs/GATEWAY.md).
PUBLIC_CHAIN_KEY = b"crm-gateway-audit-chain"
# What a record hash covers, in order, after the predecessor's hash: every column but `id`
# and the record's own hash.
HASHED_FIELDS = (
    "chain",
    "seq",
    "principal",
    "method",
    "resource",
    "outcome",
    "transport",
    "request_id",
    "origin",
    "trace_id",
    "call_time",
    "duration_micros",
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def hashed_values(record: object) -> dict[str, Any]:
    """Return what the hash of a stored record covers (its fields and `previous_hash`)."""
    return {name: getattr(record, name) for name in ("previous_hash", *HASHED_FIELDS)}


def _utc(moment: datetime) -> datetime:
    # Every stored time is UTC; a naive one (as SQLite once returned) hashes like its aware
    # twin, so a record's hash never depends on whether a zone came back with it.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def canonical_time(moment: datetime) -> str:
    """Return a stored time as RFC 3339 UTC with microseconds."""
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def genesis_hash(key: bytes, chain: str) -> str:
    """Return the `previous_hash` of a chain's first record."""
    return hmac.digest(key, f"genesis:{chain}".encode(), "sha256").hex()


def record_hash(key: bytes, row: dict[str, Any]) -> str:
    """Return the HMAC-SHA256 over a record's fields and its predecessor's hash.

    Each field is length-prefixed, so no choice of field values can make two different
    records serialise alike; times enter as integer microseconds since the epoch.
    """
    parts = [row["previous_hash"]]
    for name in HASHED_FIELDS:
        value = row[name]
        if name == "call_time":
            value = (_utc(value) - _EPOCH) // _MICROSECOND
        parts.append(str(value))
    payload = "".join(f"{len(p)}:{p};" for p in parts)
    return hmac.digest(key, payload.encode(), "sha256").hex()
