"""Page sizes and opaque page tokens (AIP-158).

Tokens are encrypted (AES-GCM), so callers cannot read or forge the position inside, and they
are bound to the query they came from: reusing one with other filters is INVALID_ARGUMENT.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crm_runtime.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def page_size(value: int, *, field: str = "page_size") -> int:
    """Return the effective page size: 0 → default, above max → max, negative → error."""
    if value < 0:
        raise InvalidArgument.of(field, "must not be negative")
    if value == 0:
        return DEFAULT_PAGE_SIZE
    return min(value, MAX_PAGE_SIZE)


class PageTokens:
    """Encodes and decodes page positions."""

    def __init__(self, key: bytes | None = None) -> None:
        self._aead = AESGCM(key or os.urandom(32))

    @staticmethod
    def _query_hash(query: object) -> str:
        return hashlib.sha256(json.dumps(query, sort_keys=True, default=str).encode()).hexdigest()[
            :16
        ]

    def encode(self, position: object, *, query: object) -> str:
        """Return a token for resuming after `position` in the same `query`."""
        nonce = os.urandom(12)
        plain = json.dumps({"p": position, "q": self._query_hash(query)}).encode()
        sealed = self._aead.encrypt(nonce, plain, None)
        return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def decode(self, token: str, *, query: object, field: str = "page_token") -> object | None:
        """Return the position in `token`, None for an empty token, or INVALID_ARGUMENT."""
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            plain = self._aead.decrypt(raw[:12], raw[12:], None)
            data = json.loads(plain)
        except (ValueError, InvalidTag) as exc:
            raise InvalidArgument.of(field, "is not a valid page token") from exc
        if data.get("q") != self._query_hash(query):
            raise InvalidArgument.of(field, "belongs to a different query")
        position: object = data["p"]
        return position
