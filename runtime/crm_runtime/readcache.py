"""A per-process read cache for hot single-row reads, invalidated by the ORM itself.

Entries are dropped when a row of the cached model is flushed and again when the transaction
commits, so a read racing a write can at worst cache a value that the commit then removes.
Writes that bypass the ORM (bulk UPDATE statements) must not touch cached models.

Only safe when this process is the store's only writer: the embedded SQLite deployment. With
PostgreSQL and several replicas a write on one replica cannot reach another's cache, so
services pass enabled=False there.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

V = TypeVar("V")

_INFO_KEY = "crm_readcache_keys"


class ReadCache(Generic[V]):
    """Bounded LRU of values keyed by a model's attribute, kept coherent with ORM writes."""

    def __init__(
        self, model: type[Any], key_attribute: str, *, enabled: bool, max_entries: int = 10_000
    ) -> None:
        self.enabled = enabled
        self._model = model
        self._key = key_attribute
        self._max = max_entries
        self._entries: OrderedDict[str, V] = OrderedDict()
        self.hits = 0
        self.misses = 0
        if enabled:
            event.listen(Session, "after_flush", self._after_flush)
            event.listen(Session, "after_commit", self._after_commit)

    def close(self) -> None:
        """Stop listening to ORM events."""
        if self.enabled:
            event.remove(Session, "after_flush", self._after_flush)
            event.remove(Session, "after_commit", self._after_commit)
            self._entries.clear()

    def get(self, key: str) -> V | None:
        """Return a cached value or None."""
        if not self.enabled:
            return None
        value = self._entries.get(key)
        if value is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key: str, value: V) -> None:
        """Cache a value read from the store."""
        if not self.enabled:
            return
        self._entries[key] = value
        self._entries.move_to_end(key)
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def invalidate(self, key: str) -> None:
        """Drop one entry."""
        self._entries.pop(key, None)

    def _after_flush(self, session: Session, _context: Any) -> None:
        keys: set[str] = session.info.setdefault(_INFO_KEY, set())
        for instance in (*session.new, *session.dirty, *session.deleted):
            if isinstance(instance, self._model):
                key = str(getattr(instance, self._key))
                keys.add(key)
                self.invalidate(key)

    def _after_commit(self, session: Session) -> None:
        for key in session.info.pop(_INFO_KEY, set()):
            self.invalidate(key)
