"""Durable engine state: checkpoints, the batch log, takeover replay, rule-set switches.

The process's engine holds the units of the partitions this replica owns (``owned``). A
unit's window state is its checkpoint plus the logged rows of its partition after the
checkpoint's position; when a partition is taken (at start or from another replica) its
checkpoints are loaded and its log from the partition's watermark on is replayed through the
engine, discarding the alerts (their warnings were committed with the rows). Checkpointing
every dirty unit after every batch would cap the stream near 2,000 postings/s (a state holds
days of seen ids and lots, a few kB); the log row costs about 1 µs per posting. Dirty states
are therefore checkpointed for a bounded time at an interval, oldest-dirty first; a graceful
stop or hand-over checkpoints every dirty unit of what it gives up. The log is purged once it
is both covered by checkpoints and older than the history window back-tests replay.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from crm.risk.v1 import risk_service_pb2
from crm_risk.monitoring.engine.core import MonitoringEngine
from crm_risk.monitoring.engine.model import FacilityContext, Transaction
from crm_risk.monitoring.engine.ruleset import Ruleset
from crm_risk.monitoring.store import batch_log
from crm_risk.monitoring.store.convert import to_transactions
from crm_risk.monitoring.store.leases import Lease
from crm_risk.monitoring.store.lookups import ContextCache
from crm_risk.monitoring.store.placement import Placement
from crm_runtime.crypto import FieldCipher
from crm_runtime.db import Database
from crm_runtime.logging import get_logger

log = get_logger("monitoring")
SAVE_CHUNK = 200


class DurableEngine:
    """The engine with its context cache, checkpoints and batch log (one per process)."""

    def __init__(
        self,
        *,
        database: Database,
        cipher: FieldCipher,
        ruleset: Ruleset,
        partitions: Sequence[str],
        member: str,
        clock: Callable[[], datetime],
        history_days: float = 90.0,
    ) -> None:
        self._db = database
        self._clock = clock
        self.contexts = ContextCache(database, cipher)
        self.ruleset = ruleset
        self.engine = self.new_engine(ruleset)
        self.placement = Placement(partitions)
        self.member = member
        self.owned: dict[str, Lease] = {}
        self._history = timedelta(days=history_days)
        self._lock = asyncio.Lock()
        # Dirty unit → position (in its partition) of the first row its checkpoint misses.
        self._dirty: OrderedDict[str, int] = OrderedDict()
        self._marks: dict[str, int] = {}  # watermark last stored per owned partition
        self._behind_store = False
        self._prefetches: set[asyncio.Future[None]] = set()
        self.replayed = 0

    def new_engine(self, ruleset: Ruleset) -> MonitoringEngine:
        """Return an engine over this service's context cache."""
        return MonitoringEngine(ruleset, clients=self.contexts, facilities=self.contexts)

    def partition_of_client(self, client_id: str) -> str:
        """Return the partition of a client's tracing unit (its context must be loaded)."""
        return self.placement.of(self.engine.unit_of(client_id))

    # ------------------------------------------------------------------ ownership

    async def take(self, leases: dict[str, Lease]) -> None:
        """Own the partitions of ``leases`` (claimed in the store): rebuild their units."""
        async with self._lock:
            await self._rebuild(leases)

    async def give_up(self, names: Iterable[str], *, graceful: bool) -> None:
        """Stop owning ``names``; ``graceful`` checkpoints their dirty units first."""
        async with self._lock:
            for name in names:
                if name not in self.owned:
                    continue
                if graceful and not self._behind_store:
                    await self._checkpoint_partition(name)
                self._forget(name)

    def _forget(self, name: str) -> None:
        units = [u for u in self.engine.unit_ids() if self.placement.of(u) == name]
        self.engine.drop_units(units)
        for unit_id in units:
            self._dirty.pop(unit_id, None)
        self.owned.pop(name, None)
        self._marks.pop(name, None)

    async def _checkpoint_partition(self, name: str) -> None:
        saved = [""]
        while saved and any(self.placement.of(u) == name for u in self._dirty):
            async with self._db.write() as session:
                saved = await self._checkpoint(session, self._clock(), budget=float("inf"),
                                               only=name)
            self._saved(saved)

    # ------------------------------------------------------------------ recovery

    async def _restore(self) -> None:
        """Rebuild every owned partition from the store (the engine got ahead of it)."""
        self.engine = self.new_engine(self.ruleset)
        self._dirty.clear()
        self._marks.clear()
        await self._rebuild(dict(self.owned))

    async def _rebuild(self, leases: dict[str, Lease]) -> None:
        for name in leases:
            self._forget(name)
        single = len(self.placement.names) == 1
        states, marks = await batch_log.load_states(self._db, None if single else list(leases))
        through: dict[str, int] = {}
        for unit_id, blob, seq in states:
            if self.placement.of(unit_id) not in leases:
                continue
            try:
                self.engine.restore_unit(unit_id, blob)
                through[unit_id] = seq
            except ValueError:
                log.warning("unreadable monitoring state; replaying the log", unit=unit_id)
        replayed = 0
        for name in leases:
            mark = marks.get(name, 0)
            self._marks[name] = mark
            async for chunk in batch_log.batches_after(self._db, name, mark - 1 if mark else 0):
                for seq, body in chunk:
                    txns = await self.decode(body)
                    units = [self.engine.unit_of(t.client_id) for t in txns]
                    fresh = [t for t, u in zip(txns, units, strict=True)
                             if self.placement.of(u) == name and through.get(u, 0) < seq]
                    self.engine.process_batch(fresh)
                    self._mark_dirty((self.engine.unit_of(t.client_id) for t in fresh), seq)
                    replayed += len(fresh)
        self.owned.update(leases)
        self._behind_store = False
        self.replayed += replayed
        log.info("monitoring partitions rebuilt", partitions=len(leases),
                 units=len(through), replayed=replayed)

    async def decode(self, body: bytes) -> list[Transaction]:
        """Return a logged batch's postings, with their clients' context loaded."""
        request = risk_service_pb2.MonitorTransactionsRequest.FromString(body)
        txns, _, _ = to_transactions(request.transactions)
        await self._refresh({t.client_id for t in txns})
        return txns

    async def refresh_for(self, client_ids: Iterable[str]) -> None:
        """Load the context of ``client_ids`` (and their groups) if unknown or stale."""
        await self._refresh(client_ids)

    async def snapshot_now(self) -> bytes:
        """Return the live state of every unit, between two batches."""
        async with self._lock:
            return self.engine.snapshot()

    def history(self) -> AsyncIterator[list[tuple[int, bytes]]]:
        """Yield every partition's stored batch log, in the order stored, in chunks."""
        return batch_log.history(self._db)

    async def _refresh(self, client_ids: Iterable[str]) -> None:
        for client_id in await self.contexts.ensure(client_ids):
            self.engine.refresh_context(client_id)

    def _mark_dirty(self, unit_ids: Iterable[str], seq: int) -> None:
        dirty = self._dirty
        for unit_id in unit_ids:
            if unit_id not in dirty:
                dirty[unit_id] = seq

    def _watermarks(self, saved: Iterable[str]) -> dict[str, int]:
        """Return each owned partition's first position a checkpoint misses, where it moved."""
        done = set(saved)
        lowest = {name: lease.applied + 1 for name, lease in self.owned.items()}
        for unit_id, seq in self._dirty.items():
            name = self.placement.of(unit_id)
            if unit_id not in done and name in lowest:
                lowest[name] = min(lowest[name], seq)
        return {name: mark for name, mark in lowest.items() if self._marks.get(name) != mark}

    async def _checkpoint(
        self, session: Any, now: datetime, *, budget: float, limit: int = SAVE_CHUNK,
        only: str | None = None,
    ) -> list[str]:
        """Save dirty unit states, oldest first, for about ``budget`` seconds (at least one
        unless the budget is zero), and the partitions' replay watermarks."""
        if budget <= 0:
            return []
        started = time.perf_counter()
        states: dict[str, bytes] = {}
        for unit_id in self._dirty:
            if only is not None and self.placement.of(unit_id) != only:
                continue
            states.update(self.engine.snapshot_units([unit_id]))
            if len(states) >= limit or time.perf_counter() - started >= budget:
                break
        marks = self._watermarks(states)
        place = self.placement.of
        await batch_log.save_states(
            session, states, through=lambda uid: self.owned[place(uid)].applied,
            partition_of=place, label=self.ruleset.label, now=now, watermarks=marks)
        self._marks.update(marks)
        return list(states)

    def _saved(self, unit_ids: list[str]) -> None:
        for unit_id in unit_ids:
            self._dirty.pop(unit_id, None)
        self.engine.mark_clean(unit_ids)

    # ------------------------------------------------------------------ control

    def invalidate(self, client_id: str) -> None:
        """Reload a client's context now, off the stream's path (and before its next batch).

        Call after the change committed: a load that races it is discarded, not kept.
        """
        self.contexts.invalidate(client_id)
        task = asyncio.ensure_future(self._prefetch(client_id))
        self._prefetches.add(task)
        task.add_done_callback(self._prefetches.discard)

    def facilities_added(self, facilities: list[FacilityContext], *, prefetch: bool) -> None:
        """Put newly committed facilities into the monitoring context at once (O(1) each).

        Their clients are also marked stale, so that a context load racing this commit is
        discarded and the next batch of the client reads the committed facilities.
        """
        for facility in facilities:
            self.contexts.add_facility(facility)
            if prefetch:
                self.invalidate(facility.client_id)
            else:
                self.contexts.invalidate(facility.client_id)
            self.engine.refresh_context(facility.client_id)

    async def _prefetch(self, client_id: str) -> None:
        try:
            await self._refresh([client_id])
        except Exception:  # the next batch of the client reloads it anyway
            log.warning("context prefetch failed", client=client_id, exc_info=True)

    async def checkpoint_all(self) -> int:
        """Save every dirty unit state (graceful stop); return how many were saved."""
        total = 0
        async with self._lock:
            while self._dirty and not self._behind_store:
                async with self._db.write() as session:
                    saved = await self._checkpoint(session, self._clock(), budget=float("inf"))
                self._saved(saved)
                total += len(saved)
        await self.purge()
        return total

    async def purge(self) -> int:
        """Delete logged rows every unit's checkpoint covers and older than the history."""
        async with self._lock:
            bounds = {name: lease.applied + 1 for name, lease in self.owned.items()}
            for unit_id, seq in self._dirty.items():
                name = self.placement.of(unit_id)
                if name in bounds:
                    bounds[name] = min(bounds[name], seq)
            older = self._clock() - self._history
            deleted = 0
            async with self._db.write() as session:
                for name, bound in bounds.items():
                    deleted += await batch_log.purge(session, partition=name, below_seq=bound,
                                                     older_than=older)
            return deleted

    async def switch_ruleset(self, ruleset: Ruleset) -> None:
        """Put a new rule set in force, keeping every unit's window state."""
        async with self._lock:
            document = self.engine.snapshot()
            engine = self.new_engine(ruleset)
            engine.restore(document)
            self.engine, self.ruleset = engine, ruleset

    @property
    def dirty_count(self) -> int:
        """Return how many unit states are not checkpointed since their last change."""
        return len(self._dirty)
