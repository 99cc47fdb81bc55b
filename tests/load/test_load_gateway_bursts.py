"""Bursts of concurrent unary calls through the gateway process, with monitoring streams open
(issue 11, `load`): overload is answered only RESOURCE_EXHAUSTED or UNAVAILABLE, the gateway's
memory stays flat (±20 MB) across the bursts, health answers during them, and every
monitoring stream still works afterwards.

`./run.sh load` fires 5 bursts of 5,000 calls with 200 monitoring streams. Three processes
start before it can begin, so the default suite leaves it out; its representative there is
the 200-stream push run, and overload at the gateway is covered by
tests/gateway/test_gateway_hardening.py::TestOverload.
"""

from __future__ import annotations

import pytest
from bursts import run_bursts
from load_support import NEVER, OVERLOAD_CODES, raise_fd_limit, record, table
from stack import load_stack

pytestmark = pytest.mark.process
RSS_BAND_MB = 20.0


async def _check(tmp_path, identity, *, bursts: int, calls: int, streams: int) -> dict:
    raise_fd_limit(16_384)
    async with load_stack(tmp_path, identity) as stack:
        figures = await run_bursts(stack, bursts=bursts, calls=calls, monitoring_streams=streams)
    summary = figures.summary()
    print("\n" + table(f"LOAD gateway bursts ({bursts} x {calls})", summary))
    codes = figures.all_codes
    assert sum(codes.values()) == bursts * calls
    assert codes["OK"] > 0, summary
    assert not NEVER & set(codes), summary
    assert set(codes) <= {"OK"} | OVERLOAD_CODES, summary
    assert figures.health_latencies and figures.health_codes.keys() == {"OK"}, summary
    assert figures.monitoring_acks_before == streams, summary
    assert figures.monitoring_acks_after == streams, summary
    return summary


@pytest.mark.load
@pytest.mark.timeout(1800)
async def test_five_bursts_of_five_thousand_calls_keep_the_gateway_flat(tmp_path, identity):
    """5 bursts of 5,000 concurrent unary calls, 200 monitoring streams open throughout."""
    summary = await _check(tmp_path, identity, bursts=5, calls=5_000, streams=200)
    print(f"results: {record('gateway_bursts', summary)}")
    assert summary["gateway_rss_spread_mb"] <= RSS_BAND_MB, summary
