"""Hand-written transaction scenarios: a small factory with running balances and ids.

Used by the tests, the perf script and anyone writing a scenario for the service by hand.
Times are hours after the factory's start, which keeps scenarios readable.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crm_risk.monitoring.engine.model import Channel, CounterpartyType, Direction, Transaction

DEFAULT_START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 Beijing, a Monday


class TxnFactory:
    """Build transactions for one client, keeping each account's balance."""

    def __init__(
        self,
        client_id: str,
        *,
        start: datetime = DEFAULT_START,
        account: str = "ACC-OP",
        balances: dict[str, float] | None = None,
    ) -> None:
        """Start at ``start`` with ``account`` as the default account and opening ``balances``."""
        self.client_id = client_id
        self.start = start
        self.account = account
        self.balances: dict[str, float] = dict(balances or {})
        self._seq = 0

    def at(self, hours: float) -> datetime:
        """Return the time ``hours`` after the start."""
        return self.start + timedelta(hours=hours)

    def _next_id(self) -> str:
        self._seq += 1
        return f"{self.client_id}-T{self._seq:05d}"

    def make(
        self,
        direction: Direction,
        amount: float,
        *,
        hours: float,
        name: str = "常州瑞丰机械有限公司",
        counterparty_account: str = "CP-0001",
        industry: str = "C3490",
        kind: CounterpartyType = "corporate",
        facility_id: str | None = None,
        channel: Channel = "transfer",
        is_cash: bool = False,
        account: str | None = None,
        txn_id: str | None = None,
        balance_after: float | None = None,
        track_balance: bool = True,
        memo: str = "",
        counterparty_client: str = "",
        bank: str = "",
    ) -> Transaction:
        """Return one transaction; its balance is the running balance unless given."""
        account_id = account or self.account
        if track_balance and balance_after is None:
            delta = amount if direction == "credit" else -amount
            self.balances[account_id] = self.balances.get(account_id, 0.0) + delta
            balance_after = self.balances[account_id]
        elif balance_after is not None:
            self.balances[account_id] = balance_after
        return Transaction(
            txn_id=txn_id or self._next_id(),
            account_id=account_id,
            client_id=self.client_id,
            facility_id=facility_id,
            direction=direction,
            amount=amount,
            currency="CNY",
            counterparty_name=name,
            counterparty_account=counterparty_account,
            counterparty_industry=industry,
            counterparty_type=kind,
            channel=channel,
            booked_at=self.at(hours),
            is_cash=is_cash or channel == "cash",
            balance_after=balance_after if track_balance or balance_after is not None else None,
            memo=memo,
            counterparty_client=counterparty_client,
            counterparty_bank=bank,
        )

    def debit(self, amount: float, *, hours: float, **fields: object) -> Transaction:
        """Return a debit (payment out); see ``make`` for the fields."""
        return self.make("debit", amount, hours=hours, **fields)  # type: ignore[arg-type]

    def credit(self, amount: float, *, hours: float, **fields: object) -> Transaction:
        """Return a credit (money in); see ``make`` for the fields."""
        return self.make("credit", amount, hours=hours, **fields)  # type: ignore[arg-type]

    def drawdown(
        self, facility_id: str, amount: float, *, hours: float, account: str | None = None
    ) -> Transaction:
        """Return the credit of a drawdown of ``facility_id`` into ``account``."""
        return self.make(
            "credit", amount, hours=hours, name="本行贷款发放", counterparty_account="LOAN-GL",
            industry="J6621", kind="loan_account", facility_id=facility_id, account=account,
            channel="loan", memo="贷款发放",
        )

    def cash_withdrawal(self, amount: float, *, hours: float, **fields: object) -> Transaction:
        """Return a cash withdrawal at the counter."""
        fields.setdefault("name", "现金支取")
        fields.setdefault("counterparty_account", "")
        fields.setdefault("industry", "")
        fields.setdefault("kind", "unknown")
        return self.make(
            "debit", amount, hours=hours, channel="cash", is_cash=True,
            **fields,  # type: ignore[arg-type]
        )
