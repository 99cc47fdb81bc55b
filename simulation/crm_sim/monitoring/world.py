"""Generate a labelled synthetic book: firms, groups, loans, ordinary life and misuse.

``generate`` simulates ``n_clients`` firms day by day. About ``group_share`` of them sit in
groups of two to four firms at this bank (trading with each other, pooling cash); every firm
has ordinary life (``ordinary``), clean loans (``loans``) and, for ``misuse_share`` of them,
one or two misuse instances (``misuse``) in hard variants. Each instance is labelled with the
ids of the postings that make it up; clients with no instance are the clean population, and
each clean firm's hard negatives (situations that look like a pattern) are listed. The same
seed always gives the same world.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from crm_risk.monitoring.engine.model import ClientContext, FacilityContext, Transaction
from crm_sim.monitoring.firm import Event, Firm, Label
from crm_sim.monitoring.group import group_daily
from crm_sim.monitoring.loans import plan_loans
from crm_sim.monitoring.misuse import PATTERNS, PLANNERS, TIMING
from crm_sim.monitoring.names import NameBook, Party
from crm_sim.monitoring.ordinary import Habits, daily

START_DATE = date(2026, 7, 6)  # a Monday; the window spans a quarter's tax day
MIN_DAYS = 40
EXTRA_PATTERN_SHARE = 0.3  # share of misuse firms that carry a second pattern
# Situations built to look like misuse; a clean firm with one of them is a hard negative.
HARD_NEGATIVES = frozenset({
    "wealth_after_drawdown", "equipment_after_drawdown", "bulk_purchase_after_drawdown",
    "group_trade_after_drawdown", "entrusted_in_busy_account", "loan_repaid_at_maturity",
    "cash_near_line", "large_payment_day", "owner_injection", "own_account_elsewhere",
    "cash_pool_after_drawdown", "land_with_own_money", "other_bank_loan",
})


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
class World:
    """A generated book with its context and ground truth."""

    clients: dict[str, ClientContext]
    facilities: dict[str, FacilityContext]
    transactions: list[Transaction]
    labels: list[MisuseLabel]
    clean_client_ids: frozenset[str]
    hard_negatives: dict[str, frozenset[str]]  # clean client -> its hard negatives
    seed: int
    days: int


def generate(*, n_clients: int, seed: int, days: int = 90, misuse_share: float = 0.3,
             group_share: float = 0.2) -> World:
    """Return a time-ordered labelled book of ``n_clients`` firms over ``days`` days."""
    if n_clients < 1 or days < MIN_DAYS or not 0.0 <= misuse_share <= 1.0:
        msg = f"need n_clients >= 1, days >= {MIN_DAYS} and misuse_share in [0, 1]"
        raise ValueError(msg)
    # Seeded pseudo-randomness is the point here: synthetic data, nothing secret.
    rng = random.Random(seed)
    book = NameBook(random.Random(f"names:{seed}"))
    firms = [Firm(random.Random(f"firm:{seed}:{i}"), book, i, days)
             for i in range(n_clients)]
    units = _groups(rng, firms, group_share)
    habits = {f.client_id: Habits(f) for f in firms}
    for firm in firms:
        if habits[firm.client_id].other_bank_loan is not None:
            firm.hard_negatives.add("other_bank_loan")
        plan_loans(firm)
        if firm.rng.random() < 0.03:
            _land_with_own_money(firm)
    labels: list[Label] = []
    for index, instances in _assign(rng, n_clients, misuse_share, days).items():
        for pattern, day in instances:
            label = Label(pattern, "", firms[index].client_id)
            PLANNERS[pattern](firms[index], day, label)
            labels.append(label)
    for unit in units:
        _simulate(unit, habits, days)
    transactions = sorted((t for f in firms for t in f.transactions),
                          key=lambda t: (t.booked_at, t.txn_id))
    # A firm whose accounts carried another firm's misuse (an affiliate used as a conduit) is
    # not clean either: its postings are part of the scheme.
    flagged = {label.client_id for label in labels}
    conduits = {txn_id.split("-", 1)[0] for label in labels for txn_id, _ in label.txns}
    clean = frozenset(f.client_id for f in firms if f.client_id not in flagged | conduits)
    return World(
        clients={f.client_id: f.context() for f in firms},
        facilities={loan.context.facility_id: loan.context for f in firms for loan in f.loans},
        transactions=transactions,
        labels=[_finish(label) for label in labels],
        clean_client_ids=clean,
        hard_negatives={f.client_id: frozenset(f.hard_negatives & HARD_NEGATIVES)
                        for f in firms if f.client_id in clean},
        seed=seed, days=days,
    )


def _groups(rng: random.Random, firms: list[Firm], share: float) -> list[list[Firm]]:
    """Put about ``share`` of the firms into groups of 2-4; return the tracing units."""
    order = list(range(len(firms)))
    rng.shuffle(order)
    grouped = order[: round(share * len(firms))]
    units: list[list[Firm]] = []
    start, number = 0, 0
    while start < len(grouped):
        size = rng.randint(2, 4)
        members = sorted((firms[i] for i in grouped[start:start + size]),
                         key=lambda f: f.client_id)
        start += size
        if len(members) < 2:
            units.append(members)
            continue
        number += 1
        for firm in members:
            firm.group = f"G{number:04d}"
            firm.affiliates = [m for m in members if m is not firm]
        units.append(members)
    units += [[firms[i]] for i in order[len(grouped):]]
    return units


def _land_with_own_money(firm: Firm) -> None:
    """A manufacturer buys industrial land with savings kept in its general account."""
    rng = firm.rng
    firm.hard_negatives.add("land_with_own_money")
    amount = round(firm.target * rng.uniform(0.3, 1.0), -4)
    firm.balances[firm.general] += amount  # savings built up before the window
    bureau = Party(f"{firm.book.city()}市自然资源和规划局", firm.book.account("2703"), "S9221",
                   "government")
    firm.schedule(rng.randint(10, firm.days - 10), Event(
        firm.business_second(), firm.general, "debit", bureau, amount=round(amount * 0.95, 2),
        memo="土地出让金", forced=True))


def _simulate(unit: list[Firm], habits: dict[str, Habits], days: int) -> None:
    """Book every day of every firm of one tracing unit, in time order."""
    for day in range(days):
        today = START_DATE + timedelta(days=day)
        # Local (Beijing, UTC+8) midnight of ``today`` in UTC.
        day_start = datetime(today.year, today.month, today.day, tzinfo=UTC) - timedelta(hours=8)
        events: list[Event] = []
        for firm in unit:
            for event in daily(firm, habits[firm.client_id], day, today):
                event.firm = firm
                events.append(event)
            group_daily(firm, day, today)
        for firm in unit:
            events.extend(firm.scheduled.pop(day, []))
        events.sort(key=lambda e: e.second)
        for event in events:
            assert event.firm is not None
            event.firm.book_event(event, day_start)


def _finish(label: Label) -> MisuseLabel:
    times = [t for _, t in label.txns]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return MisuseLabel(
        pattern=label.pattern, variant=label.variant or label.pattern,
        client_id=label.client_id, facility_id=label.facility_id,
        txn_ids=tuple(i for i, _ in label.txns),
        start=min(times, default=epoch), end=max(times, default=epoch),
    )


def _assign(rng: random.Random, n_clients: int, misuse_share: float,
            days: int) -> dict[int, list[tuple[str, int]]]:
    """Pick misuse firms and place pattern instances on them without overlap in time."""
    if misuse_share <= 0:
        return {}
    n_misuse = min(n_clients, max(round(n_clients * misuse_share), len(PATTERNS)))
    chosen = sorted(rng.sample(range(n_clients), n_misuse))
    total = n_misuse + round(EXTRA_PATTERN_SHARE * n_misuse)
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
    return plan


def _free_day(rng: random.Random, placed: list[tuple[str, int]], pattern: str,
              days: int) -> int | None:
    """Return a start day for ``pattern`` that overlaps nothing placed, or None."""
    if any(p == pattern for p, _ in placed):
        return None
    earliest, after, span = TIMING[pattern]
    taken = [(d, d + TIMING[p][2]) for p, d in placed]
    free = [day for day in range(earliest, days - after)
            if all(day + span <= lo or day >= hi for lo, hi in taken)]
    return rng.choice(free) if free else None
