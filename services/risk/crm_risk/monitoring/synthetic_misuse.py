"""Injected misuse patterns of the synthetic stream, one planner per pattern.

Each planner schedules a realistic instance on a client from ``day`` on and returns its label
draft; the booked transaction ids are filled in while the client is simulated. Variants vary
the path (tagged or inferred loan money, dedicated or operating drawdown account, payee kind)
so the rules are tested on more than one shape of each pattern. ``SPAN_DAYS`` is how long an
instance occupies a client, so instances on one client never overlap.
"""

from __future__ import annotations

from collections.abc import Callable

from crm_risk.monitoring.model import FacilityContext
from crm_risk.monitoring.synthetic_names import CONTRACTOR_TRADES, Party
from crm_risk.monitoring.synthetic_sim import CASH, ClientSim, Event, LabelDraft

PATTERNS: tuple[str, ...] = (
    "round_trip", "fast_in_fast_out", "securities_investment", "real_estate", "related_party",
    "entrusted_mismatch", "disguised_repayment", "cash_structuring", "balance_collapse",
)
# (earliest day, days needed after the start day, days the instance occupies)
TIMING: dict[str, tuple[int, int, int]] = {
    "round_trip": (3, 22, 24), "fast_in_fast_out": (2, 4, 6),
    "securities_investment": (2, 4, 6), "real_estate": (2, 4, 6), "related_party": (2, 4, 6),
    "entrusted_mismatch": (2, 5, 7), "disguised_repayment": (2, 4, 6),
    "cash_structuring": (1, 3, 4), "balance_collapse": (16, 3, 5),
}


def _loan(sim: ClientSim, day: int, label: LabelDraft, *, dedicated: bool,
          entrusted: tuple[str, ...] = ()) -> tuple[FacilityContext, float]:
    """Open a working-capital facility for the instance and draw it down on ``day``."""
    rng = sim.rng
    amount = max(3e6, round(sim.daily_receipts * rng.uniform(8, 25), -5))
    facility = sim.new_facility("working_capital", amount, dedicated=dedicated,
                                entrusted=entrusted)
    label.facility_id = facility.facility_id
    sim.drawdown(day, sim.business_second(9, 9.5), facility, amount, label)
    return facility, amount


def _pay(sim: ClientSim, day: int, facility: FacilityContext, party: Party, *,
         amount: float, label: LabelDraft | None, tagged: bool,
         hours: tuple[float, float] = (10, 16)) -> None:
    sim.schedule(day, Event(
        sim.business_second(*hours), facility.drawdown_account, "debit", party,
        amount=round(amount, 2), forced=True, fund=True, label=label,
        facility_id=facility.facility_id if tagged else None))


def _spend_rest(sim: ClientSim, day: int, facility: FacilityContext, amount: float) -> None:
    """Spend what is left of a dedicated drawdown on ordinary suppliers, later on."""
    if facility.drawdown_account == sim.operating or amount <= 0:
        return
    for offset, share in ((sim.rng.randint(6, 12), 0.5), (sim.rng.randint(13, 22), 0.5)):
        _pay(sim, day + offset, facility, sim.rng.choice(sim.suppliers), amount=amount * share,
             label=None, tagged=False)


def _divert(sim: ClientSim, day: int, label: LabelDraft, payee: Party,
            share: tuple[float, float]) -> None:
    """Draw a loan and send part of it to ``payee`` the same or next day."""
    rng = sim.rng
    facility, amount = _loan(sim, day, label, dedicated=rng.random() < 0.5)
    paid = amount * rng.uniform(*share)
    _pay(sim, day + _payout_delay(sim, facility), facility, payee, amount=paid, label=label,
         tagged=rng.random() < 0.5)
    _spend_rest(sim, day, facility, amount - paid)


def _payout_delay(sim: ClientSim, facility: FacilityContext) -> int:
    """Return days from drawdown to the diverted payment.

    In an operating account every later payment also spends the loan ("loan money first"),
    so diverters there move the money the same day; a dedicated account can wait a day.
    """
    return 0 if facility.drawdown_account == sim.operating else sim.rng.randint(0, 1)


def round_trip(sim: ClientSim, day: int, label: LabelDraft) -> None:
    """Loan money to X, then back from X, a related party or an account at another bank."""
    rng = sim.rng
    variant = rng.choice(("direct", "direct", "related", "own_elsewhere"))
    label.variant = variant
    facility, amount = _loan(sim, day, label, dedicated=rng.random() < 0.5)
    shell = sim.book.named("{city}{brand}商贸有限公司", "F5199", "corporate")
    paid = amount * (rng.uniform(0.55, 0.85) if variant == "direct" else rng.uniform(0.7, 0.9))
    _pay(sim, day + _payout_delay(sim, facility), facility, shell, amount=paid, label=label,
         tagged=rng.random() < 0.5)
    _spend_rest(sim, day, facility, amount - paid)
    if variant == "direct":
        source, back = shell, paid * rng.uniform(0.6, 1.0)
    else:
        back = paid * rng.uniform(0.75, 1.0)
        people = [sim.legal_rep, sim.controller, *sim.related]
        source = sim.external if variant == "own_elsewhere" else rng.choice(people)
    parts = rng.randint(1, 3)
    offsets = sorted(rng.sample(range(2, 21), parts))
    for offset in offsets:
        sim.schedule(day + offset, Event(sim.business_second(), sim.operating, "credit", source,
                                         amount=round(back / parts, 2), label=label,
                                         forced=True))


def fast_in_fast_out(sim: ClientSim, day: int, label: LabelDraft) -> None:
    """Drawdown into a pass-through account, gone within three days, balance near zero."""
    rng = sim.rng
    facility, amount = _loan(sim, day, label, dedicated=True)
    tagged = rng.random() < 0.5
    parts = rng.randint(2, 4)
    early = rng.uniform(0.5, 0.8)
    slots = sorted((rng.randint(0, 2), sim.business_second(10, 16)) for _ in range(parts))
    for index, (offset, second) in enumerate(slots):
        event = Event(second + index, facility.drawdown_account, "debit", sim.book.company(),
                      forced=True, label=label,
                      facility_id=facility.facility_id if tagged else None)
        if index < parts - 1:
            event.amount = round(amount * early / (parts - 1), 2)
        else:
            event.share = rng.uniform(0.985, 1.0)  # the last payment sweeps the rest
        sim.schedule(day + offset, event)


def securities_investment(sim: ClientSim, day: int, label: LabelDraft) -> None:
    """Loan money to a broker, futures firm, wealth product, trust or fund."""
    variant = sim.rng.choice(("broker", "futures", "wealth", "trust", "fund"))
    label.variant = variant
    payee = {
        "broker": lambda: sim.book.named("{brand}证券股份有限公司客户资金专户", "J6712", "broker"),
        "futures": lambda: sim.book.named("{brand}期货有限公司", "J6714", "futures"),
        "wealth": lambda: sim.book.named("本行理财产品{brand}号", "J6620", "wealth"),
        "trust": lambda: sim.book.named("{brand}国际信托有限公司", "J6911", "unknown"),
        "fund": lambda: sim.book.named("{city}{brand}基金管理有限公司", "J6713", "corporate"),
    }[variant]()
    _divert(sim, day, label, payee, (0.15, 0.6))


def real_estate(sim: ClientSim, day: int, label: LabelDraft) -> None:
    """Loan money to a developer: by industry code, by name, or both."""
    variant = sim.rng.choice(("developer", "zhiye", "dichan", "code_only"))
    label.variant = variant
    payee = {
        "developer": lambda: sim.book.named("{city}{brand}房地产开发有限公司", "K7010",
                                            "corporate"),
        "zhiye": lambda: sim.book.named("{city}{brand}置业有限公司", "", "corporate"),
        "dichan": lambda: sim.book.named("{brand}地产集团有限公司", "K7010", "corporate"),
        "code_only": lambda: sim.book.named("{city}{brand}城市发展有限公司", "7010",
                                            "corporate"),
    }[variant]()
    _divert(sim, day, label, payee, (0.2, 0.7))


def disguised_repayment(sim: ClientSim, day: int, label: LabelDraft) -> None:
    """Loan money repays another bank, a microlender or a guarantor."""
    variant = sim.rng.choice(("bank", "rural_bank", "microlender", "guarantor"))
    label.variant = variant
    payee = {
        "bank": lambda: sim.book.named("{city}银行股份有限公司贷款归还专户", "J6620", "bank"),
        "rural_bank": lambda: sim.book.named("{city}农村商业银行股份有限公司", "J6620",
                                             "corporate"),
        "microlender": lambda: sim.book.named("{city}{brand}小额贷款有限公司", "J6639",
                                              "microlender"),
        "guarantor": lambda: sim.book.named("{city}{brand}融资担保有限公司", "J6991",
                                            "guarantor"),
    }[variant]()
    _divert(sim, day, label, payee, (0.2, 0.6))


def related_party(sim: ClientSim, day: int, label: LabelDraft) -> None:
    """Loan money to a related firm or key person, or a large company-to-personal transfer."""
    rng = sim.rng
    options = ["key_person", "personal_transfer"] + (["related_firm"] if sim.related else [])
    variant = rng.choice(options)
    label.variant = variant
    if variant == "related_firm":
        _divert(sim, day, label, rng.choice(sim.related), (0.2, 0.6))
    elif variant == "key_person":
        person = rng.choice((sim.legal_rep, sim.controller))
        _divert(sim, day, label, person, (0.1, 0.4))
    else:
        stranger = sim.book.person()
        sim.schedule(day, Event(sim.business_second(), sim.operating, "debit", stranger,
                                amount=round(rng.uniform(5.5e5, 3e6), -2), forced=True,
                                fund=True, label=label))


def entrusted_mismatch(sim: ClientSim, day: int, label: LabelDraft) -> None:
    """An entrusted facility pays an approved contractor, then someone else."""
    rng = sim.rng
    contractors = [sim.book.company(CONTRACTOR_TRADES) for _ in range(2)]
    facility, amount = _loan(sim, day, label, dedicated=True,
                             entrusted=tuple(p.account for p in contractors))
    first = amount * rng.uniform(0.3, 0.6)
    _pay(sim, day, facility, contractors[0], amount=first, label=None, tagged=True)
    wrong = amount * rng.uniform(0.2, 0.4)
    later = day + rng.randint(1, 3)
    variant = rng.choice(("other_payee", "own_account"))
    label.variant = variant
    if variant == "other_payee":
        _pay(sim, later, facility, sim.book.company(), amount=wrong, label=label,
             tagged=rng.random() < 0.5)
    else:
        sim.internal_transfer(later, sim.business_second(10, 16), facility.drawdown_account,
                              sim.operating, round(wrong, 2), forced=True, label=label)
    _pay(sim, later + 2, facility, contractors[1], amount=amount - first - wrong, label=None,
         tagged=True)


def cash_structuring(sim: ClientSim, day: int, label: LabelDraft) -> None:
    """A large cash withdrawal, cash split under 5万, or transfers split under 200万/50万."""
    rng = sim.rng
    variant = rng.choice(("large_cash", "cash_split", "transfer_split"))
    label.variant = variant
    if variant == "large_cash":
        sim.schedule(day, Event(sim.business_second(), sim.operating, "debit", CASH,
                                amount=round(rng.uniform(5.2e4, 3e5), -2), channel="cash",
                                forced=True, fund=True, label=label))
        return
    count = rng.randint(3, 5)
    second = sim.business_second(9, 12)
    line = 5e4 if variant == "cash_split" else rng.choice((2e6, 5e5))
    for _ in range(count):
        amount = round(rng.uniform(0.905, 0.998) * line, -1 if line < 1e5 else -2)
        payee = CASH if variant == "cash_split" else sim.book.company()
        sim.schedule(day, Event(second, sim.operating, "debit", payee, amount=amount,
                                channel="cash" if variant == "cash_split" else "transfer",
                                forced=True, fund=True, label=label))
        second += rng.randint(1200, 4 * 3600)


def balance_collapse(sim: ClientSim, day: int, label: LabelDraft) -> None:
    """Empty the operating account in 2-4 payments within a day or two."""
    rng = sim.rng
    sim.quiet_days.update({day, day + 1})
    parts = rng.randint(2, 4)
    keep = rng.uniform(0.03, 0.10) ** (1.0 / parts)  # overall, 3-10% of the balance remains
    second = sim.business_second(9, 12)
    spread = rng.random() < 0.4
    for index in range(parts):
        target = day + (1 if spread and index >= parts // 2 else 0)
        sim.schedule(target, Event(second + index * rng.randint(600, 5400), sim.operating,
                                   "debit", sim.book.company(), share=1.0 - keep,
                                   forced=True, label=label))


PLANNERS: dict[str, Callable[[ClientSim, int, LabelDraft], None]] = {
    "round_trip": round_trip, "fast_in_fast_out": fast_in_fast_out,
    "securities_investment": securities_investment, "real_estate": real_estate,
    "related_party": related_party, "entrusted_mismatch": entrusted_mismatch,
    "disguised_repayment": disguised_repayment, "cash_structuring": cash_structuring,
    "balance_collapse": balance_collapse,
}
