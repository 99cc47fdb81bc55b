"""Keeping the garbage collector's full passes off a latency-critical event loop.

A full (generation 2) collection walks every tracked object. A service that keeps large,
long-lived state in memory (the risk service's monitoring windows) pays 30-100 ms per pass, and
CPython starts one whenever enough survivors have piled up, on whatever call is running. Such
a service turns automatic full passes off at process start (`defer_full_collections`) and runs
them itself (`FullCollections`): every `interval`, at a moment `idle()` calls quiet, or anyway
after twice the interval, so cyclic garbage is still reclaimed. Reference counting frees
everything else at once, as always; generations 0 and 1 keep running automatically.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Coroutine
from typing import Any

from crm_runtime.logging import get_logger

log = get_logger("gc")

NEVER = 1_000_000_000  # Generation-1 passes before CPython would start a full one.


def defer_full_collections() -> None:
    """Stop CPython from starting full passes by itself (process start only: it is global)."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, NEVER)


class FullCollections:
    """Runs a full collection every `interval` seconds, preferably when idle."""

    def __init__(
        self,
        *,
        interval: float = 600.0,
        idle: Callable[[], bool] = lambda: True,
        clock: Callable[[], float] = time.monotonic,
        collect: Callable[[], int] = gc.collect,
        check_every: float = 1.0,
    ) -> None:
        self._interval = interval
        self._idle = idle
        self._clock = clock
        self._collect = collect
        self._check_every = check_every
        self._last = clock()
        self.passes = 0

    def step(self) -> bool:
        """Run a full pass if one is due now; return True if it ran."""
        since = self._clock() - self._last
        if since < self._interval or not (self._idle() or since >= 2 * self._interval):
            return False
        started = time.perf_counter()
        collected = self._collect()
        self._last = self._clock()
        self.passes += 1
        log.info("full collection", collected=collected,
                 ms=round((time.perf_counter() - started) * 1000, 1))
        return True

    def job(self) -> Callable[[], Coroutine[Any, Any, None]]:
        """Return a background coroutine function that checks every `check_every` seconds."""

        async def run() -> None:
            while True:
                await asyncio.sleep(self._check_every)
                self.step()

        return run
