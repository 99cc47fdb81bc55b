"""Tells a store that could not be reached from a bug, so callers get a status they may retry.

When PostgreSQL restarts (a failover, an upgrade, a crash), calls in flight fail with driver
errors. Answered as INTERNAL they look like bugs and nobody retries them. Two cases differ in
what the caller may assume:

- the store was never reached (connection refused, "the database system is starting up"):
  nothing was done, so UNAVAILABLE `STORE_UNAVAILABLE`, which channels retry by themselves;
- the connection broke while the call was using it: the transaction may or may not have
  committed, so ABORTED `STORE_CONNECTION_LOST`. Channels do not retry ABORTED on their own;
  a caller resends with the same request_id, which the idempotency record makes safe.

Both carry a RetryInfo. SQLAlchemy wraps driver errors (`DBAPIError.orig`, with
`connection_invalidated` set when its dialect recognises a disconnect) and sometimes lets an
OSError from connect through as it is, so the whole cause chain is inspected.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from sqlalchemy.exc import DBAPIError

from crm_runtime.errors import Aborted, DomainError, Unavailable

RETRY_AFTER_SECONDS = 0.5


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        orig = getattr(item, "orig", None)
        todo.extend([item.__cause__, item.__context__,
                     orig if isinstance(orig, BaseException) else None])


def store_failure(exc: BaseException) -> DomainError | None:
    """Return the retryable error for a store connection failure in `exc`'s chain, else None."""
    try:
        import asyncpg
    except ImportError:  # A SQLite-only install: only OS-level errors can tell.
        not_reached: tuple[type[BaseException], ...] = (ConnectionRefusedError,)
        lost: tuple[type[BaseException], ...] = (ConnectionResetError, BrokenPipeError)
    else:
        not_reached = (ConnectionRefusedError, asyncpg.exceptions.CannotConnectNowError)
        lost = (ConnectionResetError, BrokenPipeError, asyncpg.PostgresConnectionError,
                asyncpg.exceptions.OperatorInterventionError)
    chain = list(_chain(exc))
    # SQLite's one writer stayed busy past the busy timeout. Writes begin with BEGIN IMMEDIATE,
    # so the lock is taken first or not at all: nothing was done, the caller may retry.
    if any(isinstance(e, sqlite3.OperationalError) and "database is locked" in str(e)
           for e in chain):
        return Unavailable("the store is busy; retry", reason="STORE_BUSY",
                           retry_after_seconds=RETRY_AFTER_SECONDS)
    if any(isinstance(e, not_reached) for e in chain):
        return Unavailable("the store is unavailable; retry", reason="STORE_UNAVAILABLE",
                           retry_after_seconds=RETRY_AFTER_SECONDS)
    # SQLAlchemy's own verdict: the dialect saw a disconnect (e.g. "connection is closed").
    invalidated = any(isinstance(e, DBAPIError) and e.connection_invalidated for e in chain)
    if invalidated or any(isinstance(e, lost) for e in chain):
        return Aborted("the store connection was lost; the outcome is unknown, resend with "
                       "the same request_id", reason="STORE_CONNECTION_LOST",
                       retry_after_seconds=RETRY_AFTER_SECONDS)
    return None
