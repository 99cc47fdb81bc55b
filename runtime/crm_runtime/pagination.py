"""Page sizes and opaque page tokens (AIP-158).

Tokens are encrypted (AES-GCM), so callers cannot read or forge the position inside, and they
are bound to the query they came from: reusing one with other filters is INVALID_ARGUMENT.
A token names the key it was sealed with, and is opened with any key of the ring, so pages
an operator holds open survive a rotation of the token key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_runtime.crypto import key_header
from crm_runtime.errors import InvalidArgument
from crm_runtime.keyring import LEGACY_KEY_ID, Keyring

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

    def __init__(self, key: bytes | Keyring | None = None) -> None:
        ring = key if isinstance(key, Keyring) else Keyring.single(key or os.urandom(32))
        self._aeads = {kid: AESGCM(value) for kid, value in ring.keys.items()}
        self._active = ring.active
        self._header = key_header(ring.active)

    def _open(self, raw: bytes) -> bytes:
        # A v2 token: 0x02, key id length, key id, nonce, sealed. Tokens made before key ids
        # (nonce, sealed) are tried with the legacy key, as is anything that fails as v2.
        if raw[:1] == self._header[:1] and len(raw) > 2:
            aead = self._aeads.get(raw[2 : 2 + raw[1]].decode(errors="replace"))
            body = raw[2 + raw[1] :]
            if aead is not None:
                try:
                    return aead.decrypt(body[:12], body[12:], None)
                except InvalidTag:
                    pass
        legacy = self._aeads.get(LEGACY_KEY_ID)
        if legacy is None:
            raise InvalidTag
        return legacy.decrypt(raw[:12], raw[12:], None)

    @staticmethod
    def _query_hash(query: object) -> str:
        return hashlib.sha256(json.dumps(query, sort_keys=True, default=str).encode()).hexdigest()[
            :16
        ]

    def encode(self, position: object, *, query: object) -> str:
        """Return a token for resuming after `position` in the same `query`."""
        nonce = os.urandom(12)
        plain = json.dumps({"p": position, "q": self._query_hash(query)}).encode()
        sealed = self._aeads[self._active].encrypt(nonce, plain, None)
        return base64.urlsafe_b64encode(self._header + nonce + sealed).decode().rstrip("=")

    def decode(self, token: str, *, query: object, field: str = "page_token") -> object | None:
        """Return the position in `token`, None for an empty token, or INVALID_ARGUMENT."""
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            plain = self._open(raw)
            data = json.loads(plain)
        except (ValueError, InvalidTag) as exc:
            raise InvalidArgument.of(field, "is not a valid page token") from exc
        if data.get("q") != self._query_hash(query):
            raise InvalidArgument.of(field, "belongs to a different query")
        position: object = data["p"]
        return position


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows and the token for the next one ("" on the last page)."""

    rows: list[T]
    next_page_token: str


async def keyset_page(
    session: AsyncSession,
    statement: Select[Any],
    *,
    key: Any,
    tokens: PageTokens,
    page_token: str,
    size: int,
    query: object,
    descending: bool = False,
    position: Callable[[Any], object] | None = None,
) -> Page[Any]:
    """Return the page after the token's position, ordered by `key` (a unique column).

    Keyset paging: the token holds the last key served, so pages stay stable while rows are
    added, and each page costs an index range scan however deep the caller has paged.
    `query` is whatever identifies the listing (filters, caller); a token from another query
    is INVALID_ARGUMENT. `position` reads the key from a row when it is not `row.<key name>`.
    """
    after = tokens.decode(page_token, query=query)
    if after is not None:
        statement = statement.where(key < after if descending else key > after)
    ordered = statement.order_by(key.desc() if descending else key).limit(size + 1)
    rows = list((await session.execute(ordered)).scalars())
    if len(rows) <= size:
        return Page(rows, "")
    last = rows[size - 1]
    mark = position(last) if position is not None else getattr(last, key.key)
    return Page(rows[:size], tokens.encode(mark, query=query))


def offset_page(
    items: Sequence[T], *, tokens: PageTokens, page_token: str, size: int, query: object
) -> Page[T]:
    """Return the page of an ordered list computed in memory, after the token's position.

    For lists no stored key orders (aggregates, states derived on read): the token holds how
    many items were served. The list is recomputed on every call, so a page may shift when
    the data under it changes between calls, as AIP-158 allows for such lists. A token from
    another `query` is INVALID_ARGUMENT.
    """
    position = tokens.decode(page_token, query=query)
    start = position if isinstance(position, int) and position > 0 else 0
    end = start + size
    next_token = tokens.encode(end, query=query) if len(items) > end else ""
    return Page(list(items[start:end]), next_token)
