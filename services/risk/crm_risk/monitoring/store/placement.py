"""Which partition a tracing unit belongs to, and which replica should own each partition.

A unit (a client, or every client of one group at this bank) is the monitoring unit, so the
partition is a hash of the unit id: a group's members land in one partition together. The
owner of a partition is chosen by rendezvous hashing over the live replicas: each replica
scores every partition and the highest score wins, so a replica joining or leaving moves only
the partitions it gains or held (about 1/n of them), and every replica computes the same
answer from the same member list without talking to the others.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Sequence


def partition_names(base: str, count: int) -> list[str]:
    """Return the names of ``count`` partitions.

    One partition keeps the plain ``base`` name, so a store written before partitioning
    (one replica, one log named ``base``) is read on as partition 0 of 1.
    """
    if count < 1:
        raise ValueError("at least one partition")
    if count == 1:
        return [base]
    width = len(str(count - 1))
    return [f"{base}.{index:0{width}d}" for index in range(count)]


class Placement:
    """Maps units to partitions for a fixed list of partition names."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        self._count = len(self.names)

    def of(self, unit_id: str) -> str:
        """Return the partition of ``unit_id`` (stable across processes and restarts)."""
        if self._count == 1:
            return self.names[0]
        return self.names[zlib.crc32(unit_id.encode()) % self._count]


def _score(partition: str, member: str) -> int:
    digest = hashlib.blake2b(f"{partition}|{member}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def desired_owner(partition: str, members: Iterable[str]) -> str | None:
    """Return the live member that should own ``partition`` (None without members)."""
    return max(members, key=lambda member: (_score(partition, member), member), default=None)


def desired_partitions(names: Iterable[str], members: Sequence[str], me: str) -> set[str]:
    """Return the partitions ``me`` should own among ``members`` (``me`` counted as live)."""
    everyone = sorted({*members, me})
    return {name for name in names if desired_owner(name, everyone) == me}
