"""Risk writes at book scale: 100,000 facilities registered, 100,000 clients re-rated.

Facilities: a fresh risk service (pinned to CPU 0, SQLite) learns 10,000 clients through
ClientCreated events (timed apart), then 100,000 facilities arrive through
BatchCreateFacilities, 1,000 a call, two calls in flight (``bench.risk_registration``).
Goal: < 60 s, and the last batches no slower than the first (cost flat in the book).

Re-rating: a second fresh service gets 100,000 clients' facts and three years of statements
each written straight into its store (what a bulk import leaves behind; untimed), then every
client is rated through BatchRateClients, 2,000 a call, two calls in flight: first the
initial ratings (each announced by RatingChanged through the outbox), then a re-rating of
the same book (unchanged ratings, nothing announced). Goal: < 10 s. The pure scoring cost
per client (evidence to rating values, no store) is measured in this process as an anchor.

Figures are indicative: the machine is shared and often loaded by other work.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
from google.type import date_pb2
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine

from bench.risk_registration import register_book
from bench.tools import ROOT, start_pinned, wait_ready
from crm.risk.v1 import risk_service_pb2, risk_service_pb2_grpc, statement_pb2
from crm_risk.models import ClientFactRow, StatementRow
from crm_risk.rating.statement_input import parse_statement
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit, free_port, pii_env
from crm_runtime.wire import money_message

FACILITIES = 100_000
FACILITIES_PER_CLIENT = 10
RATED_CLIENTS = 100_000
RATE_BATCH = 2000
IN_FLIGHT = 2
GOAL_FACILITY_SECONDS = 60.0
GOAL_RERATE_SECONDS = 10.0
INDUSTRIES = ("C3411", "C2614", "F5176", "G5430", "E4813", "I6513", "A0111", "K7010")
STATEMENT_SHAPES = 500


@contextlib.contextmanager
def _service(tmp: Path, name: str) -> Iterator[tuple[str, IdentityKit, str, int]]:
    """Run a fresh risk service on CPU 0 with its own SQLite store; yield its address,
    identity kit, store URL and pid (taskset execs the interpreter). Events go to two
    subscribers that do not answer, so the outbox keeps them (as for a service whose
    consumers are slower than it)."""
    kit = IdentityKit.create(tmp / f"identity-{name}")
    port = free_port()
    url = f"sqlite+aiosqlite:///{tmp}/risk-{name}.db"
    env = {**pii_env(), **kit.env("risk"), "GRPC_PORT": str(port), "DATABASE_URL": url,
           "LOG_LEVEL": "error", "REVIEW_ENABLED": "false",
           # One channel carries the whole run: no reconnection in the middle of a batch.
           "MAX_CONNECTION_AGE_MS": str(6 * 3600 * 1000),
           "EVENT_SUBSCRIBERS": "client=127.0.0.1:9,notify=127.0.0.1:9"}
    service = start_pinned(["-m", "crm_risk"], env, tmp / f"risk-{name}.log")
    try:
        yield f"127.0.0.1:{port}", kit, url, service.pid
    finally:
        service.terminate()
        service.wait(60)


def _document(rng: random.Random) -> str:
    """Return the stored document of a balanced statement with random leverage, margins and
    cash flow (through the service's own parsing, so it is what CreateFinancialStatement
    stores)."""
    liabilities = rng.uniform(100e6, 290e6)
    revenue = rng.uniform(60e6, 600e6)
    operating = revenue * rng.uniform(-0.15, 0.2)
    interest = rng.uniform(0.5e6, 20e6)
    values = {
        "total_assets": 300e6, "current_assets": 150e6, "inventory": 40e6,
        "receivables": 50e6, "cash": 30e6, "total_liabilities": liabilities,
        "current_liabilities": 90e6, "short_term_debt": 40e6, "long_term_debt": 50e6,
        "equity": 300e6 - liabilities, "advance_receipts": 5e6, "revenue": revenue,
        "cost_of_sales": revenue - operating - 5e6, "operating_profit": operating,
        "interest_expense": interest, "ebit": operating + 1e6,
        "net_profit": (operating - interest) * 0.75, "depreciation_amortisation": 8e6,
        "operating_cash_flow": operating * rng.uniform(-0.5, 1.5),
        "investing_cash_flow": -10e6, "financing_cash_flow": -5e6,
    }
    message = statement_pb2.FinancialStatement(
        period_start=date_pb2.Date(year=2025, month=1, day=1),
        period_end=date_pb2.Date(year=2025, month=12, day=31), audited=True,
        audit_opinion=statement_pb2.AUDIT_OPINION_UNQUALIFIED)
    for part in ("balance_sheet", "income_statement", "cash_flow_statement"):
        section = getattr(message, part)
        for item in section.DESCRIPTOR.fields:
            if item.name in values:
                getattr(section, item.name).CopyFrom(money_message(
                    Decimal(str(round(values[item.name])))))
    return parse_statement(message)[1]


async def _seed(url: str, clients: int) -> float:
    """Write clients' facts and three statements each into the store; return seconds."""
    started = time.perf_counter()
    rng = random.Random(5)
    shapes = [_document(rng) for _ in range(STATEMENT_SHAPES)]
    now = datetime.now(UTC)
    engine = create_async_engine(url)
    facts: Any = ClientFactRow.__table__  # type: ignore[attr-defined]
    statements: Any = StatementRow.__table__  # type: ignore[attr-defined]
    try:
        for start in range(0, clients, 10_000):
            ids = [f"r{n:06d}" for n in range(start, min(clients, start + 10_000))]
            async with engine.begin() as conn:
                await conn.execute(insert(facts), [
                    {"client_id": cid, "display_name": f"评级企业{cid}",
                     "industry_code": INDUSTRIES[n % len(INDUSTRIES)], "region_code": "320500",
                     "group_name": "", "size_class": ("small", "medium", "large")[n % 3],
                     "relationship_manager": "staff/rm-a", "team": "",
                     "rerate_requested": False, "rerate_reason": "", "next_review_date": None,
                     "update_time": now} for n, cid in enumerate(ids, start)])
                await conn.execute(insert(statements), [
                    {"id": uuid.uuid4().hex, "client_id": cid, "period_start": date(year, 1, 1),
                     "period_end": date(year, 12, 31), "audited": True,
                     "audit_opinion": "unqualified",
                     "amounts_json": shapes[(n * 3 + year) % STATEMENT_SHAPES],
                     "submitted_by": "systems/import", "create_time": now}
                    for n, cid in enumerate(ids, start) for year in (2023, 2024, 2025)])
            print(f"  seeded {start + len(ids):,} clients with 3 statements each", flush=True)
    finally:
        await engine.dispose()
    return time.perf_counter() - started


async def _rate_all(address: str, kit: IdentityKit, clients: int, pid: int) -> dict[str, Any]:
    """Rate every client through BatchRateClients; return the timing, the service's CPU
    seconds (which other work on the machine does not inflate as much as wall time) and the
    grade spread."""
    names = [f"clients/r{n:06d}" for n in range(clients)]
    calls = [names[i:i + RATE_BATCH] for i in range(0, clients, RATE_BATCH)]
    gate = asyncio.Semaphore(IN_FLIGHT)
    grades: dict[str, int] = {}
    done = 0
    async with grpc.aio.insecure_channel(
            address, options=[("grpc.max_receive_message_length", 64 << 20)]) as channel:
        stub = risk_service_pb2_grpc.RiskServiceStub(channel)

        async def one(batch: list[str]) -> None:
            nonlocal done
            async with gate:
                reply = await stub.BatchRateClients(  # a fresh token: runs outlive one
                    risk_service_pb2.BatchRateClientsRequest(clients=batch), timeout=600,
                    metadata=kit.metadata("staff/risk-1", Role.RISK_OFFICER))
            for rated in reply.ratings:
                grades[rated.grade] = grades.get(rated.grade, 0) + 1
            done += len(reply.ratings)
            print(f"  rated {done:,} / {clients:,}", flush=True)

        started, cpu = time.perf_counter(), _cpu_seconds(pid)
        await asyncio.gather(*(one(batch) for batch in calls))
        seconds = time.perf_counter() - started
        cpu = _cpu_seconds(pid) - cpu
    return {"clients": done, "seconds": round(seconds, 2), "service_cpu_seconds": round(cpu, 2),
            "per_second": round(done / seconds, 1), "grades": dict(sorted(grades.items())),
            "met": done == clients and seconds < GOAL_RERATE_SECONDS}


def _cpu_seconds(pid: int) -> float:
    """Return the user + system CPU time a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _scoring_anchor(samples: int = 2000) -> float:
    """Return the pure scoring CPU cost per client in microseconds (evidence to the values
    stored)."""
    from crm_risk.rating.evidence import Evidence, inputs_of
    from crm_risk.rating.model.scorecard import rate
    from crm_risk.rating.rate import rating_values

    rng = random.Random(9)
    rows = []
    for n in range(samples):
        statements = [type("Stored", (), {
            "id": f"s{n}-{year}", "period_start": date(year, 1, 1),
            "period_end": date(year, 12, 31), "audited": True, "audit_opinion": "unqualified",
            "amounts_json": _document(rng)})() for year in (2025, 2024, 2023)]
        rows.append(Evidence(statements=statements))
    now = datetime.now(UTC)
    started = time.process_time()  # CPU time: less at the mercy of other work than wall time
    for n, evidence in enumerate(rows):
        inputs = inputs_of(evidence, industry_code=INDUSTRIES[n % len(INDUSTRIES)],
                           size_class="medium", floating=0.0, fx=0.0)
        rating_values(f"a{n}", rate(inputs), inputs, evidence.statement_id, "",
                      trigger="periodic", actor="bench", now=now)
    return round((time.process_time() - started) / samples * 1e6, 1)


async def run(*, facilities: int = FACILITIES, clients: int = RATED_CLIENTS) -> dict[str, Any]:
    """Run both measurements on fresh services and return the results."""
    tmp = Path(tempfile.mkdtemp(prefix="crm-risk-scale-"))
    try:
        print(f"facilities: {facilities:,} over {facilities // FACILITIES_PER_CLIENT:,} clients",
              flush=True)
        with _service(tmp, "facilities") as (address, kit, _, _pid):
            await wait_ready(address, "crm.risk.v1.RiskService")
            registration = await register_book(address, kit, facilities,
                                               per_client=FACILITIES_PER_CLIENT)
        registration["met"] = registration["facilities"] == facilities and registration[
            "seconds"] < GOAL_FACILITY_SECONDS
        print(f"  {json.dumps(registration)}", flush=True)
        print(f"re-rating: {clients:,} clients", flush=True)
        with _service(tmp, "rating") as (address, kit, url, pid):
            await wait_ready(address, "crm.risk.v1.RiskService")
            seed_seconds = await _seed(url, clients)
            initial = await _rate_all(address, kit, clients, pid)
            print(f"  {json.dumps(initial)}", flush=True)
            again = await _rate_all(address, kit, clients, pid)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "facilities": registration,
        "rerate_seed_seconds": round(seed_seconds, 1),
        "rating_initial": initial,
        "rerating": again,
        "scoring_us_per_client": _scoring_anchor(),
        "goals": {"facilities_seconds": GOAL_FACILITY_SECONDS,
                  "rerate_seconds": GOAL_RERATE_SECONDS},
        "note": "indicative: shared 2-core machine, loaded by other work during the run",
    }


def write_results(results: dict[str, Any]) -> Path:
    """Write bench/results/risk-scale-<UTC time>.json and risk-scale.md (latest table)."""
    folder = ROOT / "bench" / "results"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (folder / f"risk-scale-{stamp}.json").write_text(json.dumps(results, indent=2) + "\n")
    f, first, again = results["facilities"], results["rating_initial"], results["rerating"]
    lines = [
        "| measure | value |",
        "|---|---|",
        f"| facilities through BatchCreateFacilities ({f['clients']:,} clients) | "
        f"{f['facilities']:,} in {f['seconds']} s ({f['per_second']}/s) |",
        f"| mean batch of 1,000 s, first / last tenth of the book | "
        f"{f['batch_seconds_first_tenth']} / {f['batch_seconds_last_tenth']} |",
        f"| goal: 100,000 facilities in < {GOAL_FACILITY_SECONDS:.0f} s | "
        f"{'met' if f['met'] else 'not met'} |",
        f"| initial ratings through BatchRateClients | {first['clients']:,} in "
        f"{first['seconds']} s ({first['per_second']}/s) |",
        f"| re-rating the same book | {again['clients']:,} in {again['seconds']} s "
        f"({again['per_second']}/s) |",
        f"| service CPU seconds: initial ratings / re-rating | "
        f"{first['service_cpu_seconds']} / {again['service_cpu_seconds']} |",
        f"| goal: 100,000 clients re-rated in < {GOAL_RERATE_SECONDS:.0f} s | "
        f"{'met' if again['met'] else 'not met'} |",
        f"| pure scoring per client (evidence to rating values), µs | "
        f"{results['scoring_us_per_client']} |",
        f"| grades of the re-rating | {again['grades']} |",
        "",
        f"{results['note']}.",
    ]
    path = folder / "risk-scale.md"
    path.write_text("\n".join(lines) + "\n")
    return path
