"""Which partitions this replica owns: membership heartbeat, claims, renewals, hand-overs.

Every ``heartbeat`` seconds a replica renews its membership row and its leases, reads the live
replicas and computes the partitions it should own (``placement.desired_partitions``: the same
answer on every replica). It hands over, checkpointed, the partitions a newcomer should now
own; it claims the partitions it should own once they are free (released by their previous
owner, or their lease ran out after a crash) and rebuilds their units from checkpoints and the
log before applying anything of them. A partition it finds taken from it (a pause longer than
the lease) is dropped from memory at once; the epoch fence has already refused its writes.

SQLite serves one process: it claims every partition at start, whatever the table says, and
again whenever it finds one dropped. A fence there cannot mean another replica; it means the
store's watermark moved past this process's memory (a write whose outcome it never learnt, or
an earlier incarnation still finishing its last batch while this one started). Without the
re-claim the partition stayed dropped and every later posting waited for an owner that did
not exist (the chaos suite's SQLite run: monitoring calls timed out for four minutes).
"""

from __future__ import annotations

import asyncio
import os
import socket

from crm_risk.monitoring.store import leases
from crm_risk.monitoring.store.durable import DurableEngine
from crm_risk.monitoring.store.placement import desired_partitions
from crm_runtime.db import Database
from crm_runtime.logging import get_logger

log = get_logger("monitoring")


def default_member() -> str:
    """Return a name unique to this process (host and process id)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Ownership:
    """Keeps this replica's share of the monitoring partitions."""

    def __init__(self, owner: DurableEngine, database: Database, *, lease_seconds: float,
                 heartbeat_seconds: float) -> None:
        self._owner, self._db = owner, database
        self._ttl, self._interval = lease_seconds, heartbeat_seconds
        self._exclusive = database.is_sqlite
        self.moves = 0  # partitions taken or given up since start

    async def start(self) -> None:
        """Create the partitions if needed and take this replica's share before serving."""
        names = self._owner.placement.names
        await leases.ensure_partitions(self._db, names)
        if self._exclusive:
            await self.reclaim_dropped()
            return
        await self.tick()

    async def run(self) -> None:
        """Keep the share current until cancelled (a background task)."""
        while True:
            await asyncio.sleep(self._interval)
            try:
                if self._exclusive:
                    await self.reclaim_dropped()
                else:
                    await self.tick()
            except Exception:
                log.warning("monitoring ownership round failed", exc_info=True)

    async def reclaim_dropped(self) -> None:
        """SQLite: take every partition this process does not hold, whatever the table says
        (a forced claim raises the epoch; taking rebuilds the units from the store)."""
        owner = self._owner
        missing = [name for name in owner.placement.names if name not in owner.owned]
        if not missing:
            return
        taken = {}
        for name in missing:
            lease = await leases.claim(self._db, name, owner.member, self._ttl, force=True)
            assert lease is not None
            taken[name] = lease
        await owner.take(taken)
        if len(missing) < len(owner.placement.names):  # after start: a fence dropped them
            self.moves += len(missing)
            log.warning("monitoring partitions re-claimed", partitions=missing)

    async def tick(self) -> None:
        """One round: membership, hand-overs, renewals, claims."""
        owner, me = self._owner, self._owner.member
        _, members = await leases.heartbeat(self._db, me, self._ttl)
        desired = desired_partitions(owner.placement.names, members, me)
        for name in sorted(set(owner.owned) - desired):
            epoch = owner.owned[name].epoch
            await owner.give_up([name], graceful=True)
            await leases.release(self._db, name, me, epoch)
            self.moves += 1
            log.info("monitoring partition handed over", partition=name)
        held = await leases.renew(self._db, me, self._ttl)
        lost = [name for name, lease in owner.owned.items() if held.get(name) != lease.epoch]
        if lost:
            log.warning("monitoring partitions lost", partitions=lost)
            await owner.give_up(lost, graceful=False)
            self.moves += len(lost)
        for name in sorted(desired - set(owner.owned)):
            lease = await leases.claim(self._db, name, me, self._ttl)
            if lease is None:
                continue
            await owner.take({name: lease})
            self.moves += 1
            log.info("monitoring partition taken", partition=name, epoch=lease.epoch)
            await leases.renew(self._db, me, self._ttl)  # a long rebuild must not lapse leases

    async def stop(self) -> None:
        """Hand every partition over and leave (a graceful stop, after ``checkpoint_all``,
        which saved what there was to save)."""
        owner, me = self._owner, self._owner.member
        for name in sorted(owner.owned):
            epoch = owner.owned[name].epoch
            await owner.give_up([name], graceful=False)
            await leases.release(self._db, name, me, epoch)
        await leases.leave(self._db, me)
