"""One synthetic firm: its accounts, people, counterparties, habits and booked postings.

Each day's events of a tracing unit (a firm, or all firms of a group at this bank) are sorted
by time and booked one by one against running balances, so every ``balance_after`` is right
and a transfer between two of the unit's accounts books its debit and its credit in order.
Ordinary payments never overdraw: they shrink or are skipped at an account's floor. Forced
events (loans, their spending, misuse) are booked as planned; when the account cannot pay
one, an ordinary customer receipt arrives first (firms do get paid).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from crm_risk.monitoring.engine.model import (
    Channel,
    ClientContext,
    Direction,
    EntrustedPayee,
    FacilityContext,
    FacilityType,
    RelatedParty,
    Transaction,
)
from crm_sim.monitoring.names import EQUIPMENT_TRADES, NameBook, Party

DAY_SECONDS = 86_400
THIS_BANK = "本行"
CASH = Party("现金", "", "", "unknown")


@dataclass(slots=True)
class Label:
    """Ground truth of one injected misuse instance, filled while it is booked."""

    pattern: str
    variant: str
    client_id: str
    facility_id: str | None = None
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
    memo: str = ""
    channel: Channel = "transfer"
    facility_id: str | None = None
    forced: bool = False
    label: Label | None = None
    pair: Event | None = None  # the credit leg of a transfer inside the unit
    firm: Firm | None = None  # who books it (set when scheduled)


@dataclass(slots=True)
class Loan:
    """A facility of a firm with the accounts and payees its money uses."""

    context: FacilityContext
    payees: list[Party]


class Firm:
    """One client firm of the synthetic bank."""

    def __init__(self, rng: random.Random, book: NameBook, index: int, days: int) -> None:
        """Draw the firm's size, accounts, people, counterparties and habits."""
        self.rng = rng
        self.book = book
        self.days = days
        self.client_id = f"C{index:05d}"
        me = book.company()
        self.name, self.industry = me.name, me.industry
        self.size = rng.choices(("micro", "small", "medium", "large"), (15, 40, 33, 12))[0]
        scale = {"micro": 2.5e4, "small": 1.2e5, "medium": 6e5, "large": 3e6}[self.size]
        self.daily_receipts = scale * rng.lognormvariate(0.0, 0.5)
        self.receipt_rate = {"micro": 0.5, "small": 1.2, "medium": 3.0, "large": 6.0}[
            self.size] * rng.uniform(0.6, 1.4)
        self.payment_rate = self.receipt_rate * rng.uniform(0.6, 1.1)
        self.target = self.daily_receipts * rng.uniform(8, 30)
        self.basic = book.account("6228")
        self.general = book.account("6228")
        self.payroll_account = book.account("6228") if rng.random() < 0.5 else ""
        self.balances: dict[str, float] = {
            self.basic: round(self.target * rng.uniform(0.8, 1.2), 2),
            self.general: round(self.target * rng.uniform(0.05, 0.5), 2),
        }
        if self.payroll_account:
            self.balances[self.payroll_account] = 0.0
        self.floors = {self.basic: 0.3 * self.target, self.general: 0.2 * self.target}
        self.away = Party(self.name, book.account("6230"), "", "own_account", book.other_bank())
        self.customers = [book.company() for _ in range(rng.randint(4, 16))]
        self.suppliers = [book.company() for _ in range(rng.randint(4, 14))]
        self.employees = [book.person() for _ in range(max(3, round(
            {"micro": 4, "small": 12, "medium": 40, "large": 120}[self.size]
            * rng.uniform(0.5, 1.5))))]
        self.legal_rep = book.person()
        self.controller = self.legal_rep if rng.random() < 0.6 else book.person()
        self.executives = rng.sample(self.employees, k=min(3, len(self.employees)))
        self.person_shareholders = [self.controller] + (
            [book.person()] if rng.random() < 0.4 else [])
        self.relatives = [book.person()] if rng.random() < 0.3 else []
        self.related_firms = [book.company() for _ in range(rng.choice((0, 0, 1, 2)))]
        self.group = ""
        self.affiliates: list[Firm] = []
        self.loans: list[Loan] = []
        self.dedicated: list[str] = []
        self.scheduled: dict[int, list[Event]] = {}
        self.transactions: list[Transaction] = []
        self.hard_negatives: set[str] = set()
        self.quiet_days: set[int] = set()
        self.drawdown_days: list[tuple[int, str, float]] = []  # (day, account, amount)
        # Entrusted loan money not yet paid out, per account: the bank holds it for the
        # approved payees, so the firm's own payments cannot spend it.
        self.earmarked: dict[str, float] = {}
        self._seq = 0

    # ------------------------------------------------------------------ people and parties

    def party(self, account: str) -> Party:
        """Return this firm as the counterparty of one of its accounts."""
        return Party(self.name, account, self.industry, "corporate", "", self.client_id)

    def lognormal(self, mean: float, sigma: float) -> float:
        """Return a lognormal amount with the given mean."""
        return self.rng.lognormvariate(math.log(max(mean, 1.0)) - sigma * sigma / 2, sigma)

    def business_second(self, start_hour: float = 9.0, end_hour: float = 17.5) -> int:
        """Return a random second within business hours."""
        return int(self.rng.uniform(start_hour, end_hour) * 3600)

    # ------------------------------------------------------------------ planning

    def schedule(self, day: int, event: Event) -> None:
        """Plan ``event`` on ``day`` (ignored outside the stream)."""
        event.firm = event.firm or self
        if 0 <= day < self.days:
            self.scheduled.setdefault(day, []).append(event)

    def transfer(self, day: int, second: int, source: str, target: Firm, target_account: str,
                 amount: float = 0.0, *, share: float | None = None, memo: str = "",
                 channel: Channel = "transfer", forced: bool = True,
                 label: Label | None = None) -> Event:
        """Plan a move of money from this firm's account to an account in its unit."""
        credit = Event(second + 30, target_account, "credit", self.party(source), memo=memo,
                       channel=channel, label=label, firm=target)
        debit = Event(second, source, "debit", target.party(target_account), amount=amount,
                      share=share, memo=memo, channel=channel, forced=forced, label=label,
                      pair=credit)
        self.schedule(day, debit)
        target.schedule(day, credit)
        return debit

    def new_loan(self, facility_type: FacilityType, amount: float, *, account: str,
                 purpose: str, declared: str, entrusted: tuple[Party, ...] = (),
                 investment: float | None = None) -> Loan:
        """Register a facility drawn into ``account``."""
        context = FacilityContext(
            facility_id=f"{self.client_id}-F{len(self.loans) + 1}", client_id=self.client_id,
            facility_type=facility_type, amount=amount, purpose_category=purpose,
            drawdown_account=account,
            entrusted=tuple(EntrustedPayee(p.name, p.account, p.industry) for p in entrusted),
            total_project_investment=investment, loan_account=self.book.account("7001"),
            declared_purpose=declared,
        )
        loan = Loan(context, list(entrusted))
        self.loans.append(loan)
        return loan

    def dedicated_account(self) -> str:
        """Open a loan-dedicated account."""
        account = self.book.account("6229")
        self.balances[account] = 0.0
        self.dedicated.append(account)
        return account

    def drawdown(self, day: int, loan: Loan, amount: float, *, tagged: bool,
                 label: Label | None = None, second: int | None = None) -> None:
        """Plan a drawdown of ``loan`` into its account."""
        lender = Party("本行贷款账户", loan.context.loan_account, "J6621", "loan_account",
                       THIS_BANK)
        self.drawdown_days.append((day, loan.context.drawdown_account, amount))
        self.schedule(day, Event(
            second if second is not None else self.business_second(9, 9.75),
            loan.context.drawdown_account, "credit", lender, amount=round(amount, 2),
            memo="贷款发放", channel="loan", forced=True, label=label,
            facility_id=loan.context.facility_id if tagged else None))

    def equipment_vendor(self) -> Party:
        """Return a new equipment maker."""
        return self.book.company(EQUIPMENT_TRADES)

    def recent_drawdown(self, day: int, account: str, within: int) -> bool:
        """Return whether loan money was drawn into ``account`` in the last ``within`` days."""
        return any(a == account and 0 <= day - d <= within for d, a, _ in self.drawdown_days)

    def recently_drawn(self, day: int, account: str, within: int = 30) -> float:
        """Return the loan money drawn into ``account`` in the last ``within`` days."""
        return sum(x for d, a, x in self.drawdown_days if a == account and 0 <= day - d <= within)

    # ------------------------------------------------------------------ booking

    def book_event(self, event: Event, day_start: datetime) -> None:
        """Book ``event`` against the running balance of its account."""
        balance = self.balances.get(event.account, 0.0)
        if event.direction == "credit":
            if event.memo == "贷款发放":
                self._hold(event)
            self._post(event, round(event.amount, 2), day_start)
            return
        amount = round(balance * event.share if event.share is not None else event.amount, 2)
        if event.channel == "entrusted_payment":
            held = self.earmarked.get(event.account, 0.0)
            self.earmarked[event.account] = max(0.0, held - event.amount)
        if not event.forced:
            allowed = (balance - self.floors.get(event.account, 0.0)
                       - self.earmarked.get(event.account, 0.0))
            if allowed < 100:
                return
            amount = min(amount, round(allowed, 2))
        elif amount > balance:
            funding = round(amount - balance + amount * self.rng.uniform(0.02, 0.2), 2)
            receipt = Event(event.second, event.account, "credit", self.rng.choice(self.customers),
                            amount=funding, memo="货款")
            self._post(receipt, funding, day_start)
        self._post(event, amount, day_start)

    def _hold(self, event: Event) -> None:
        """A drawdown of an entrusted facility: the bank holds the money for its payees."""
        lender = event.party.account
        if any(loan.context.entrusted and loan.context.loan_account == lender
               for loan in self.loans):
            self.earmarked[event.account] = self.earmarked.get(event.account, 0.0) + event.amount

    def _post(self, event: Event, amount: float, day_start: datetime) -> None:
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
            balance_after=balance, memo=event.memo, counterparty_client=party.client,
            counterparty_bank=party.bank,
        )
        self.transactions.append(txn)
        if event.label is not None:
            event.label.txns.append((txn.txn_id, booked_at))
        if event.pair is not None:
            event.pair.amount = amount

    # ------------------------------------------------------------------ context

    def context(self) -> ClientContext:
        """Return what the bank knows of this firm's accounts, group and related parties."""
        parties = [
            RelatedParty(self.legal_rep.name, self.legal_rep.account, "legal_representative",
                         natural_person=True),
            RelatedParty(self.away.name, self.away.account, "own_external_account",
                         natural_person=False),
        ]
        if self.controller is not self.legal_rep:
            parties.append(RelatedParty(self.controller.name, self.controller.account,
                                        "actual_controller", natural_person=True))
        parties += [RelatedParty(p.name, p.account, "shareholder", natural_person=True)
                    for p in self.person_shareholders if p is not self.controller]
        parties += [RelatedParty(p.name, "", "executive", natural_person=True)
                    for p in self.executives]
        parties += [RelatedParty(p.name, "", "relative", natural_person=True)
                    for p in self.relatives]
        parties += [RelatedParty(p.name, p.account, "affiliate", natural_person=False)
                    for p in self.related_firms]
        parties += [RelatedParty(f.name, f.basic, "affiliate", natural_person=False,
                                 client_id=f.client_id) for f in self.affiliates]
        own = {self.basic, self.general, *self.dedicated}
        if self.payroll_account:
            own.add(self.payroll_account)
        return ClientContext(client_id=self.client_id, own_accounts=frozenset(own),
                             related_parties=tuple(parties), group=self.group,
                             display_name=self.name)
