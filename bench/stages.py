"""Split a cProfile of a serving process into the stages of a call (exclusive time).

Every profiled function's own time (tottime) goes to exactly one stage, so the stages add up
to the whole profile and nothing is counted twice. A function of the project or of a library
that belongs to one stage (PyJWT to identity, structlog to the log line...) is classified by
its file; a generic one (a builtin, the json encoder, dataclasses) takes the stage of the
caller it spent the most time for, so `json.dumps` under the log line counts as the log line.
"""

from __future__ import annotations

import pstats
from collections.abc import Sequence
from pathlib import Path

Func = tuple[str, int, str]

# (stage, file path fragments), first match wins. Paths are as cProfile records them.
STAGES: Sequence[tuple[str, tuple[str, ...]]] = (
    ("identity (signed token, verified-token cache)",
     ("crm_runtime/auth.py", "/jwt/", "/cryptography/", "crm_gateway/gate.py",
      "crm_gateway/jwks.py", "crm_gateway/apikeys.py")),
    ("metrics (duration histogram)", ("opentelemetry/sdk/metrics", "crm_runtime/metrics.py")),
    ("tracing (server span, W3C context)", ("opentelemetry/", "crm_runtime/telemetry.py")),
    ("log line (structlog, masking, JSON)",
     ("structlog/", "crm_runtime/logging.py", "crm_runtime/pii.py")),
    ("store (SQLAlchemy, aiosqlite, the driver thread)",
     ("sqlalchemy/", "aiosqlite/", "sqlite3/", "crm_runtime/db.py")),
    ("handler (name, access check, row cache, mapping)",
     ("crm_client/", "crm_runtime/names.py", "crm_runtime/readcache.py",
      "crm_runtime/wire.py")),
    ("interceptor (request context, admission, decode)",
     ("crm_runtime/interceptors.py", "crm_runtime/requestctx.py", "crm_runtime/admission.py",
      "crm_runtime/storefailure.py", "crm_runtime/errors.py")),
    ("gateway routing and forwarding",
     ("crm_gateway/",)),
    ("gRPC Python layer and protobuf (aio calls, messages)",
     ("grpc/", "google/protobuf", "grpc_status/")),
    # cProfile cannot see into the Cython server: its time shows under the loop that runs it.
    ("gRPC core and event loop (Cython server, asyncio)", ("asyncio/", "uvloop/")),
)
OTHER = "other (interpreter, profiler switch)"


def _own_stage(func: Func) -> str | None:
    filename = func[0]
    if func[2].startswith("<method ") or func[2].startswith("<built-in"):
        return None
    for stage, fragments in STAGES:
        if any(fragment in filename for fragment in fragments):
            return stage
    return None


class StageSplit:
    """Stage of every function of one profile."""

    def __init__(self, stats: pstats.Stats) -> None:
        self._stats: dict[Func, tuple[int, int, float, float, dict[Func, tuple[
            int, int, float, float]]]] = stats.stats  # type: ignore[attr-defined]
        self._memo: dict[Func, str] = {}

    def stage(self, func: Func, seen: frozenset[Func] = frozenset()) -> str:
        """Return the stage of `func`: its own, else that of its costliest caller."""
        if func in self._memo:
            return self._memo[func]
        found = _own_stage(func)
        if found is None:
            callers = self._stats.get(func, (0, 0, 0.0, 0.0, {}))[4]
            ranked = sorted(callers.items(), key=lambda item: -item[1][3])
            found = OTHER
            for caller, _ in ranked:
                if caller not in seen:
                    found = self.stage(caller, seen | {func})
                    break
        self._memo[func] = found
        return found

    def seconds_by_stage(self) -> dict[str, float]:
        """Return each stage's exclusive seconds; generic functions split by caller."""
        totals: dict[str, float] = {}
        for func, (_cc, _nc, own, _cum, callers) in self._stats.items():
            if _own_stage(func) is not None or not callers:
                stage = self.stage(func)
                totals[stage] = totals.get(stage, 0.0) + own
                continue
            for caller, (_c, _n, from_caller, _ct) in callers.items():
                stage = self.stage(caller, frozenset({func}))
                totals[stage] = totals.get(stage, 0.0) + from_caller
        return totals


def stage_table(profile: Path, calls: int) -> list[dict[str, object]]:
    """Return the stages of `profile` (taken over `calls` calls), costliest first, with their
    share of the profile and profiled µs per call."""
    totals = StageSplit(pstats.Stats(str(profile))).seconds_by_stage()
    whole = sum(totals.values()) or 1.0
    return [
        {"stage": stage, "share": round(seconds / whole, 3),
         "us_per_call": round(seconds / calls * 1e6, 1)}
        for stage, seconds in sorted(totals.items(), key=lambda item: -item[1])
    ]
