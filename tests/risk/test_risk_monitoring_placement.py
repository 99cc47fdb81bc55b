"""Placement of tracing units in partitions and of partitions on replicas (pure functions)."""

from __future__ import annotations

from collections import Counter

import pytest

from crm_risk.monitoring.engine.units import unit_id_of
from crm_risk.monitoring.store.placement import (
    Placement,
    desired_owner,
    desired_partitions,
    partition_names,
)
from crm_sim.monitoring.world import generate

NAMES = partition_names("default", 64)


def test_one_partition_keeps_the_plain_name_and_many_are_numbered():
    """A store from before partitioning reads on as partition 0 of 1."""
    assert partition_names("default", 1) == ["default"]
    assert NAMES[0] == "default.00" and NAMES[-1] == "default.63" and len(set(NAMES)) == 64
    with pytest.raises(ValueError):
        partition_names("default", 0)


def test_a_groups_clients_share_one_partition():
    """Every client of a group maps to its group's unit, hence to one partition."""
    world = generate(n_clients=200, seed=5, days=40)
    place = Placement(NAMES)
    by_group: dict[str, set[str]] = {}
    for client_id, context in world.clients.items():
        if context.group:
            by_group.setdefault(context.group, set()).add(
                place.of(unit_id_of(client_id, context)))
    assert by_group and all(len(parts) == 1 for parts in by_group.values())
    assert place.of("c:client-1") == Placement(list(NAMES)).of("c:client-1")  # stable


def test_every_partition_has_exactly_one_desired_owner_spread_evenly():
    """Each replica computes the same owner per partition; three replicas get 64 about
    evenly (none below 12)."""
    members = ["risk-0", "risk-1", "risk-2"]
    shares = [desired_partitions(NAMES, members, me) for me in members]
    assert set().union(*shares) == set(NAMES)
    assert sum(len(share) for share in shares) == len(NAMES)
    assert min(len(share) for share in shares) >= 12
    assert all(desired_owner(name, reversed(members)) == desired_owner(name, members)
               for name in NAMES)


def test_a_joining_replica_moves_only_what_it_gains_and_a_leaving_one_only_what_it_held():
    """Rendezvous hashing: scale-up from 3 to 4 moves only the newcomer's partitions
    (about a quarter); scale-down moves only the leaver's."""
    three = {name: desired_owner(name, ["a", "b", "c"]) for name in NAMES}
    four = {name: desired_owner(name, ["a", "b", "c", "d"]) for name in NAMES}
    moved = [name for name in NAMES if three[name] != four[name]]
    assert all(four[name] == "d" for name in moved)
    assert 8 <= len(moved) <= 24
    two = {name: desired_owner(name, ["a", "c"]) for name in NAMES}
    assert all(two[name] == three[name] for name in NAMES if three[name] != "b")
    assert Counter(two.values()).keys() == {"a", "c"}
