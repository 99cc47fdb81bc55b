"""Per-client simulation core of the synthetic stream: accounts, balances, scheduled events.

A client's days are simulated in order. Each day's events (background flows plus scheduled
loan and misuse events) are sorted by time and booked one by one against running balances, so
every ``balance_after`` is consistent. Background payments never overdraw: they shrink or are
skipped at an account floor. Forced events (drawdowns, loan spending, injected misuse) are
booked as planned; those marked ``fund`` are preceded by an ordinary customer receipt when the
account could not otherwise pay them.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from crm_risk.monitoring.model import (
    Channel,
    ClientContext,
    Direction,
    FacilityContext,
    FacilityType,
    Transaction,
)
from crm_risk.monitoring.synthetic_names import NameBook, Party

DAY_SECONDS = 86_400
CASH = Party("现金", "", "", "unknown")


@dataclass(slots=True)
class LabelDraft:
    """An injected misuse instance while its transactions are being booked."""

    pattern: str
    variant: str
    client_id: str
    facility_id: str | None
    txns: list[tuple[str, datetime]] = field(default_factory=list)


@dataclass(slots=True)
class Event:
    """One planned booking; ``second`` is seconds after local midnight of its day."""

    second: int
    account: str
    direction: Direction
    party: Party
    amount: float = 0.0
    share: float | None = None  # debit amount = share x balance when booked
    facility_id: str | None = None
    channel: Channel = "transfer"
    forced: bool = False
    fund: bool = False
    label: LabelDraft | None = None
    pair: Event | None = None  # the mirroring credit of a transfer between own accounts


class ClientSim:
    """One client's accounts, counterparties, habits and scheduled events."""

    def __init__(self, rng: random.Random, book: NameBook, index: int, days: int) -> None:
        """Draw the client's size, counterparties and habits."""
        self.rng = rng
        self.book = book
        self.days = days
        self.client_id = f"C{index:05d}"
        me = book.company()
        self.name = me.name
        self.city = book.city()
        self.daily_receipts = min(5e6, max(3e4, rng.lognormvariate(math.log(3e5), 0.9)))
        self.target = max(1.5e6, self.daily_receipts * rng.uniform(12, 35))
        self.receipt_rate = rng.uniform(1.5, 6.0)
        self.payment_rate = rng.uniform(1.0, 4.0)
        self.operating = book.account("6228")
        self.general = book.account("6228")
        self.payroll = book.account("6228")
        self.balances = {
            self.operating: round(self.target * rng.uniform(0.9, 1.1), 2),
            self.general: round(self.target * rng.uniform(0.1, 0.4), 2),
            self.payroll: 0.0,
        }
        # Background payments never take an account below its floor (firms keep reserves);
        # the payroll account is meant to be emptied every month.
        self.floors = {self.operating: 0.45 * self.target,
                       self.general: 0.5 * self.balances[self.general]}
        self.customers = [book.company() for _ in range(rng.randint(5, 18))]
        if rng.random() < 0.15:
            self.customers.append(book.bank_branch())  # a bank buying the client's services
        if rng.random() < 0.08:
            self.customers.append(book.named("{brand}证券股份有限公司", "J6712", "corporate"))
        self.suppliers = [book.company() for _ in range(rng.randint(4, 14))]
        self.employees = [book.person() for _ in range(rng.randint(3, 8))]
        self.related = [book.company() for _ in range(rng.randint(0, 3))]
        self.legal_rep = book.person()
        self.controller = self.legal_rep if rng.random() < 0.5 else book.person()
        self.relatives = [book.person() for _ in range(1 if rng.random() < 0.3 else 0)]
        self.external = Party(self.name, book.account("6230"), "", "corporate")
        self.landlord = book.named(
            rng.choice(("{city}{brand}物业管理有限公司", "{city}{brand}房屋租赁有限公司")),
            rng.choice(("K7020", "K7040")), "corporate",
        )
        self.retail = rng.random() < 0.15
        self.petty_rate = rng.uniform(0.02, 0.15)
        self.near_cash_habit = rng.random() < 0.15
        self.near_fee_habit = rng.random() < 0.1
        self.wealth_habit = rng.random() < 0.3
        self.quiet_days: set[int] = set()
        self.dedicated_only = False  # set for clients whose operating account must stay untied
        self.operating_draw_days: list[int] = []
        self.facilities: list[FacilityContext] = []
        self.dedicated: list[str] = []
        self.scheduled: dict[int, list[Event]] = {}
        self.transactions: list[Transaction] = []
        self._seq = 0

    # ------------------------------------------------------------------ planning helpers

    def schedule(self, day: int, event: Event) -> None:
        """Plan ``event`` on ``day`` (ignored past the end of the stream)."""
        if 0 <= day < self.days:
            self.scheduled.setdefault(day, []).append(event)

    def business_second(self, start_hour: float = 9.0, end_hour: float = 17.5) -> int:
        """Return a random second within business hours."""
        return int(self.rng.uniform(start_hour, end_hour) * 3600)

    def new_facility(
        self, facility_type: FacilityType, amount: float, *, dedicated: bool,
        entrusted: tuple[str, ...] = (), project_investment: float | None = None,
    ) -> FacilityContext:
        """Register a facility; give it its own loan account when ``dedicated``."""
        if dedicated or self.dedicated_only:
            account = self.book.account("6229")
            self.balances[account] = 0.0
            self.dedicated.append(account)
        else:
            account = self.operating
        context = FacilityContext(
            facility_id=f"{self.client_id}-F{len(self.facilities) + 1}",
            client_id=self.client_id, facility_type=facility_type, amount=amount,
            purpose_category="operating_turnover" if facility_type == "working_capital"
            else "capex", drawdown_account=account,
            entrusted_counterparties=frozenset(entrusted),
            total_project_investment=project_investment,
        )
        self.facilities.append(context)
        return context

    def drawdown(self, day: int, second: int, facility: FacilityContext, amount: float,
                 label: LabelDraft | None = None) -> None:
        """Plan a drawdown credit of ``amount`` into the facility's drawdown account."""
        lender = Party("本行贷款发放", "9100000000000001", "J6621", "bank")
        if facility.drawdown_account == self.operating:
            self.operating_draw_days.append(day)
        self.schedule(day, Event(second, facility.drawdown_account, "credit", lender,
                                 amount=amount, facility_id=facility.facility_id, forced=True,
                                 label=label))

    def internal_transfer(self, day: int, second: int, source: str, target: str,
                          amount: float, *, forced: bool = False,
                          facility_id: str | None = None,
                          label: LabelDraft | None = None) -> None:
        """Plan a transfer between two of the client's own accounts (debit + credit)."""
        credit = Event(second + 30, target, "credit", Party(self.name, source, "", "corporate"))
        debit = Event(second, source, "debit", Party(self.name, target, "", "corporate"),
                      amount=amount, forced=forced, facility_id=facility_id, label=label,
                      pair=credit)
        self.schedule(day, debit)
        self.schedule(day, credit)

    def recent_operating_draw(self, day: int, within: int = 32) -> bool:
        """Return whether loan money was drawn into the operating account recently."""
        return any(0 <= day - d <= within for d in self.operating_draw_days)

    def lognormal(self, mean: float, sigma: float) -> float:
        """Return a lognormal amount with the given mean."""
        return self.rng.lognormvariate(math.log(max(mean, 1.0)) - sigma * sigma / 2, sigma)

    # ------------------------------------------------------------------ booking

    def book_day(self, day: int, day_start: datetime, events: list[Event]) -> None:
        """Book ``events`` of ``day`` in time order."""
        events.sort(key=lambda e: e.second)
        for event in events:
            self._apply(event, day_start)

    def _apply(self, event: Event, day_start: datetime) -> None:
        balance = self.balances.get(event.account, 0.0)
        if event.direction == "credit":
            self._book(event, round(event.amount, 2), day_start)
            return
        amount = round(balance * event.share if event.share is not None else event.amount, 2)
        if not event.forced:
            allowed = balance - self.floors.get(event.account, 0.0)
            if allowed < 100:
                return
            amount = min(amount, round(allowed, 2))
        elif event.fund and amount > 0.5 * balance:
            funding = round(amount * self.rng.uniform(1.0, 1.15), 2)
            # Same timestamp, booked first: the stream's (time, id) order keeps balances right.
            receipt = Event(event.second, event.account, "credit",
                            self.rng.choice(self.customers), amount=funding)
            self._book(receipt, funding, day_start)
        elif amount > balance:
            amount = round(balance, 2)
        self._book(event, amount, day_start)

    def _book(self, event: Event, amount: float, day_start: datetime) -> None:
        if amount <= 0:
            return
        account = event.account
        delta = amount if event.direction == "credit" else -amount
        balance = round(self.balances.get(account, 0.0) + delta, 2)
        self.balances[account] = balance
        self._seq += 1
        booked_at = day_start + timedelta(seconds=min(max(event.second, 0), DAY_SECONDS - 1))
        party = event.party
        txn = Transaction(
            txn_id=f"{self.client_id}-{self._seq:06d}", account_id=account,
            client_id=self.client_id, facility_id=event.facility_id,
            direction=event.direction, amount=amount, currency="CNY",
            counterparty_name=party.name, counterparty_account=party.account,
            counterparty_industry=party.industry, counterparty_type=party.kind,
            channel=event.channel, booked_at=booked_at, is_cash=event.channel == "cash",
            balance_after=balance,
        )
        self.transactions.append(txn)
        if event.label is not None:
            event.label.txns.append((txn.txn_id, booked_at))
        if event.pair is not None:
            event.pair.amount = amount

    # ------------------------------------------------------------------ context

    def context(self) -> ClientContext:
        """Return what the bank knows about this client's accounts and related parties."""
        # Relatives (e.g. the controller's spouse) are related parties too.
        related_names = {p.name for p in self.related} | {p.name for p in self.relatives}
        return ClientContext(
            client_id=self.client_id,
            related_party_names=frozenset(related_names),
            related_party_accounts=frozenset({p.account for p in self.related}
                                             | {self.external.account}),
            own_accounts=frozenset({self.operating, self.general, self.payroll,
                                    *self.dedicated}),
            legal_rep_name=self.legal_rep.name,
            controller_name=self.controller.name,
        )
