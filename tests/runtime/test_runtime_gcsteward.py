"""Full garbage collections on the service's schedule instead of CPython's."""

from __future__ import annotations

import gc

from crm_runtime.gcsteward import NEVER, FullCollections, defer_full_collections


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_full_pass_waits_for_its_interval_and_a_quiet_moment():
    """Due after `interval` when idle; while busy it waits, but not beyond twice the interval."""
    clock, busy, runs = Clock(), [True], []
    steward = FullCollections(
        interval=600, idle=lambda: not busy[0], clock=clock, collect=lambda: runs.append(1) or 0
    )
    clock.now = 599
    busy[0] = False
    assert steward.step() is False  # not due yet
    clock.now = 601
    busy[0] = True
    assert steward.step() is False  # due, but the stream is busy
    clock.now = 700
    busy[0] = False
    assert steward.step() is True  # due and quiet
    clock.now = 1301
    busy[0] = True
    assert steward.step() is False  # due again (601 s since), still busy
    clock.now = 1900
    assert steward.step() is True  # twice the interval passed: run even though busy
    assert (len(runs), steward.passes) == (2, 2)


def test_deferring_leaves_young_generations_automatic():
    """Only the full pass is deferred; generations 0 and 1 keep their thresholds."""
    before = gc.get_threshold()
    try:
        defer_full_collections()
        young, middle, full = gc.get_threshold()
        assert (young, middle) == before[:2]
        assert full == NEVER
    finally:
        gc.set_threshold(*before)
