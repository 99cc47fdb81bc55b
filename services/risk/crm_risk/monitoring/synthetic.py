"""Deterministic labelled transaction stream: ordinary firms plus injected misuse patterns.

``generate_stream`` simulates ``n_clients`` firms day by day (receipts, suppliers, payroll,
tax, utilities, rent, cash, wealth products, related-party trade, loans drawn and spent) and
injects misuse instances of every pattern in ``PATTERNS`` into a share of them. Each instance is
labelled with its pattern, client, facility and the ids of the transactions that make it up;
clients with no instance are the clean population for the false-warning rate. The same seed
always gives the same stream.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from crm_risk.monitoring.model import ClientContext, FacilityContext, Transaction
from crm_risk.monitoring.synthetic_background import (
    background_events,
    plan_background_facilities,
)
from crm_risk.monitoring.synthetic_misuse import PATTERNS, PLANNERS, TIMING
from crm_risk.monitoring.synthetic_names import NameBook
from crm_risk.monitoring.synthetic_sim import ClientSim, LabelDraft

__all__ = ["PATTERNS", "START_DATE", "MisuseLabel", "SyntheticData", "generate_stream"]

START_DATE = date(2026, 1, 5)  # a Monday
MIN_DAYS = 30
EXTRA_PATTERN_SHARE = 0.3  # share of misuse clients that carry a second pattern
MIN_MISUSE_CLIENTS = 3


@dataclass(frozen=True, slots=True)
class MisuseLabel:
    """Ground truth of one injected misuse instance."""

    pattern: str
    variant: str
    client_id: str
    facility_id: str | None
    txn_ids: tuple[str, ...]
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class SyntheticData:
    """A generated stream with its context and ground truth."""

    clients: dict[str, ClientContext]
    facilities: dict[str, FacilityContext]
    transactions: list[Transaction]
    labels: list[MisuseLabel]
    clean_client_ids: frozenset[str]
    seed: int
    days: int


def generate_stream(
    *, n_clients: int, seed: int, days: int = 60, misuse_share: float = 0.3
) -> SyntheticData:
    """Return a time-ordered labelled stream of ``n_clients`` firms over ``days`` days."""
    if n_clients < 1:
        msg = "n_clients must be at least 1"
        raise ValueError(msg)
    if days < MIN_DAYS:
        msg = f"days must be at least {MIN_DAYS} (patterns need history and follow-up)"
        raise ValueError(msg)
    if not 0.0 <= misuse_share <= 1.0:
        msg = "misuse_share must be within [0, 1]"
        raise ValueError(msg)
    # Seeded pseudo-randomness is the point here: synthetic data, nothing secret.
    rng = random.Random(seed)  # noqa: S311
    book = NameBook(random.Random(f"names:{seed}"))  # noqa: S311
    sims = [ClientSim(random.Random(f"client:{seed}:{i}"), book, i, days)  # noqa: S311
            for i in range(n_clients)]
    plan = _assign_patterns(rng, n_clients, misuse_share, days)
    drafts: list[LabelDraft] = []
    for index, sim in enumerate(sims):
        instances = plan.get(index, [])
        # The collapse pattern needs an operating account free of loan money to judge.
        sim.dedicated_only = any(p == "balance_collapse" for p, _ in instances)
        plan_background_facilities(sim)
        for pattern, day in instances:
            draft = LabelDraft(pattern, "", sim.client_id, None)
            PLANNERS[pattern](sim, day, draft)
            drafts.append(draft)
    transactions: list[Transaction] = []
    for sim in sims:
        _simulate(sim)
        transactions.extend(sim.transactions)
    transactions.sort(key=lambda t: (t.booked_at, t.txn_id))
    labels = [_finish(d) for d in drafts]
    flagged = {label.client_id for label in labels}
    return SyntheticData(
        clients={sim.client_id: sim.context() for sim in sims},
        facilities={f.facility_id: f for sim in sims for f in sim.facilities},
        transactions=transactions,
        labels=labels,
        clean_client_ids=frozenset(s.client_id for s in sims if s.client_id not in flagged),
        seed=seed,
        days=days,
    )


def _simulate(sim: ClientSim) -> None:
    for day in range(sim.days):
        today = START_DATE + timedelta(days=day)
        # Local (Beijing, UTC+8) midnight of ``today`` in UTC.
        day_start = datetime(today.year, today.month, today.day, tzinfo=UTC) - timedelta(hours=8)
        events = background_events(sim, day, today)
        events.extend(sim.scheduled.pop(day, []))
        sim.book_day(day, day_start, events)


def _finish(draft: LabelDraft) -> MisuseLabel:
    times = [t for _, t in draft.txns]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return MisuseLabel(
        pattern=draft.pattern,
        variant=draft.variant or draft.pattern,
        client_id=draft.client_id,
        facility_id=draft.facility_id,
        txn_ids=tuple(i for i, _ in draft.txns),
        start=min(times, default=epoch),
        end=max(times, default=epoch),
    )


def _assign_patterns(
    rng: random.Random, n_clients: int, misuse_share: float, days: int
) -> dict[int, list[tuple[str, int]]]:
    """Pick misuse clients and place pattern instances on them without overlap in time."""
    if misuse_share <= 0:
        return {}
    n_misuse = min(n_clients, max(round(n_clients * misuse_share), MIN_MISUSE_CLIENTS))
    chosen = sorted(rng.sample(range(n_clients), n_misuse))
    total = max(n_misuse + round(EXTRA_PATTERN_SHARE * n_misuse), len(PATTERNS))
    order = list(PATTERNS)
    rng.shuffle(order)
    plan: dict[int, list[tuple[str, int]]] = {}
    for j in range(total):
        pattern = order[j % len(order)]
        for step in range(n_misuse):
            client = chosen[(j + step) % n_misuse]
            day = _free_day(rng, plan.get(client, []), pattern, days)
            if day is not None:
                plan.setdefault(client, []).append((pattern, day))
                break
        else:
            msg = f"not enough clients or days to place a {pattern} instance"
            raise ValueError(msg)
    return plan


def _free_day(
    rng: random.Random, placed: list[tuple[str, int]], pattern: str, days: int
) -> int | None:
    """Return a random start day for ``pattern`` that overlaps nothing placed, or None."""
    if any(p == pattern for p, _ in placed):
        return None
    earliest, after, span = TIMING[pattern]
    latest = days - after - 1
    taken = [(d, d + TIMING[p][2]) for p, d in placed]
    free = [
        day for day in range(earliest, latest + 1)
        if all(day + span <= lo or day >= hi for lo, hi in taken)
    ]
    return rng.choice(free) if free else None
