"""What the load suite's runs share: file-descriptor limits, process memory, latency figures,
status-code counts and the results file (bench/results/load-<date>.json).

Figures measured here are indicative only: the machine has 2 cores shared with others.
"""

from __future__ import annotations

import datetime
import json
import resource
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import grpc

ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = ROOT / "bench" / "results"
# Overload may be answered only with these; CANCELLED, INTERNAL or UNKNOWN is a defect.
OVERLOAD_CODES = {"RESOURCE_EXHAUSTED", "UNAVAILABLE"}
NEVER = {"CANCELLED", "INTERNAL", "UNKNOWN"}


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's open-file soft limit towards `wanted` (at most the hard limit);
    child processes inherit it. Return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def fd_limit_of(pid: int) -> int:
    """Return the open-file soft limit of process `pid` (from /proc)."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise LookupError(f"no open-file limit for {pid}")


def rss_mb(pid: int) -> float:
    """Return the resident set size of process `pid` in MB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"no VmRSS for {pid}")


def open_fds(pid: int) -> int:
    """Return how many file descriptors process `pid` holds."""
    return sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())


def percentiles(values: Iterable[float]) -> dict[str, float]:
    """Return count, p50, p99 and max of `values` (seconds, rounded to ms)."""
    data = sorted(values)
    if not data:
        return {"count": 0}
    p99 = data[min(len(data) - 1, int(len(data) * 0.99))]
    return {
        "count": len(data),
        "p50_s": round(statistics.median(data), 3),
        "p99_s": round(p99, 3),
        "max_s": round(data[-1], 3),
    }


def code_name(error: BaseException) -> str:
    """Return the status code name of a finished call's error."""
    if isinstance(error, grpc.aio.AioRpcError):
        return error.code().name
    return type(error).__name__


def table(title: str, rows: Mapping[str, Any]) -> str:
    """Return `rows` as a two-column text table under `title`."""
    width = max(len(k) for k in rows)
    lines = [title, "-" * len(title)]
    lines += [f"{k.ljust(width)}  {v}" for k, v in rows.items()]
    return "\n".join(lines)


def record(section: str, figures: Mapping[str, Any]) -> Path:
    """Merge `figures` under `section` into today's results file; return its path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    path = RESULTS_DIR / f"load-{today}.json"
    current = json.loads(path.read_text()) if path.exists() else {}
    current[section] = {
        "measured_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "note": "indicative only: 2 shared cores, loaded by other work",
        **figures,
    }
    path.write_text(json.dumps(current, indent=2, sort_keys=True, default=_plain) + "\n")
    return path


def _plain(value: object) -> object:
    if isinstance(value, Counter):
        return dict(value)
    raise TypeError(type(value).__name__)
