"""Scenarios for the monitoring engine: one client (or a group), its facilities, a busy life.

Times are hours after Monday 2026-03-02 09:00 Beijing (see ``TxnFactory``). ``busy_month``
gives a client a month of ordinary life before the scenario starts (known customers and
suppliers, a running balance, a usual receipt size), so that rules judging "new" and "usual"
see what a real unit would have seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from crm_risk.monitoring.engine import (
    Alert,
    ClientContext,
    EntrustedPayee,
    FacilityContext,
    MonitoringEngine,
    RelatedParty,
    Transaction,
    load_ruleset,
)
from crm_sim.monitoring.builders import TxnFactory

CLIENT = "C1"
BASIC, GENERAL, LOAN = "6228000000000001", "6228000000000002", "6229000000000003"
NAME = "苏州恒达机械制造有限公司"
CONTROLLER = "王建国"
LEGAL_REP = "刘杰浩"
DAY = 24.0
CUSTOMERS = [(f"客户{i}号有限公司", f"CUST{i:04d}") for i in range(6)]
SUPPLIERS = [(f"供应商{i}号有限公司", f"SUPP{i:04d}") for i in range(6)]
START = 30 * DAY  # scenarios start after a month of ordinary life


def client(client_id: str = CLIENT, *, group: str = "", name: str = NAME,
           accounts: Iterable[str] = (BASIC, GENERAL, LOAN),
           parties: Sequence[RelatedParty] = ()) -> ClientContext:
    """Return a client's monitoring context with its key persons as related parties."""
    people = (
        RelatedParty(CONTROLLER, "6217000000000009", "actual_controller", natural_person=True),
        RelatedParty(LEGAL_REP, "", "legal_representative", natural_person=True),
    )
    return ClientContext(client_id=client_id, own_accounts=frozenset(accounts),
                         related_parties=(*people, *parties), group=group, display_name=name)


def facility(facility_id: str = "F1", *, client_id: str = CLIENT, account: str = BASIC,
             amount: float = 5e6, purpose: str = "raw_materials",
             kind: str = "working_capital",
             entrusted: Sequence[EntrustedPayee] = ()) -> FacilityContext:
    """Return a facility drawn into ``account``."""
    return FacilityContext(
        facility_id=facility_id, client_id=client_id, facility_type=kind,  # type: ignore[arg-type]
        amount=amount, purpose_category=purpose, drawdown_account=account,
        entrusted=tuple(entrusted), loan_account=f"LOAN-{facility_id}",
    )


def engine(*facilities: FacilityContext, clients: Sequence[ClientContext] = (),
           overrides: Mapping[str, Mapping[str, object]] | None = None) -> MonitoringEngine:
    """Return an engine over the given clients (default: one) and facilities."""
    known = list(clients) or [client()]
    return MonitoringEngine(load_ruleset(overrides=overrides),
                            clients={c.client_id: c for c in known},
                            facilities={f.facility_id: f for f in facilities})


def factory(client_id: str = CLIENT, *, basic: float = 3e6,
            general: float = 5e5) -> TxnFactory:
    """Return a factory with opening balances on the basic and general accounts."""
    return TxnFactory(client_id, account=BASIC,
                      balances={BASIC: basic, GENERAL: general, LOAN: 0.0})


def busy_month(f: TxnFactory, *, receipt: float = 2e5, payment: float = 1.8e5,
               days: int = 30) -> list[Transaction]:
    """Return a month of ordinary receipts and supplier payments on the basic account."""
    txns: list[Transaction] = []
    for day in range(days):
        if day % 7 in (5, 6):
            continue
        name, account = CUSTOMERS[day % len(CUSTOMERS)]
        txns.append(f.credit(receipt, hours=day * DAY + 1, name=name,
                             counterparty_account=account, memo="货款"))
        name, account = SUPPLIERS[day % len(SUPPLIERS)]
        txns.append(f.debit(payment, hours=day * DAY + 5, name=name,
                            counterparty_account=account, memo="材料款"))
    return txns


def drawdown(f: TxnFactory, facility_id: str = "F1", amount: float = 5e6, *,
             hours: float = START, account: str = BASIC, tagged: bool = True) -> Transaction:
    """Return a drawdown posting, tagged with the facility or recognised by its loan account."""
    return f.make("credit", amount, hours=hours, name="本行贷款账户",
                  counterparty_account=f"LOAN-{facility_id}", industry="J6621",
                  kind="loan_account", channel="loan", memo="贷款发放", account=account,
                  facility_id=facility_id if tagged else None)


def move(f: TxnFactory, amount: float, *, hours: float, source: str = BASIC,
         target: str = GENERAL, memo: str = "资金划转") -> list[Transaction]:
    """Return both legs of a transfer between two of the client's own accounts."""
    return [
        f.debit(amount, hours=hours, account=source, name=NAME, counterparty_account=target,
                memo=memo),
        f.credit(amount, hours=hours + 0.01, account=target, name=NAME,
                 counterparty_account=source, memo=memo),
    ]


def of(rule_id: str, alerts: Iterable[Alert]) -> list[Alert]:
    """Return the alerts of one rule."""
    return [a for a in alerts if a.rule_id == rule_id]
