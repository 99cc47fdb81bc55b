"""Fund tracing: where each facility's loan money sits, and how much of a payment is loan money.

Attribution rule (DOMAIN §6, "pro-rata"): an account's balance is a mix of own money and
lots of loan money (a lot = money of one facility that reached this account along one path).
A payment takes from every lot in proportion to the lot's share of the balance just before
it; receipts add own money, so they dilute the share instead of refilling the lots. The lots
can never exceed the balance (the lowest-intermediate-balance idea: money that left cannot
come back as the same money), so a balance that falls below its lots shrinks them.

Three exceptions, from how loan money is moved and paid:
- A payment core banking tags with a facility (or books as an entrusted payment) is that
  facility's money first, up to what is left of it in the account.
- Money that just arrived by a transfer from another of the unit's accounts leaves first
  (for ``PASS_THROUGH_SECONDS``): a firm moves money between its own accounts to make a
  payment, so the payment after the move is the moved money (last in, first out, on the
  receiving account only; the account the loan was drawn into stays pro-rata).
- Money of an entrusted-payment facility (受托支付) is earmarked: the bank pays it to the
  approved payees, so the borrower's ordinary payments come from own money first and reach
  the earmarked lot only when own money runs out (then that payment carries loan money).

A lot follows the money across the unit's own accounts and its group affiliates at this bank
(a hop adds the transfer to the lot's path). Lots expire after the tracing window or when what
is left falls below the residue floor. A balance the feed does not send is estimated from the
postings; with no balance at all, a payment is loan money first (the strictest reading).
"""

from __future__ import annotations

from typing import Any

MAX_LOTS = 16
MAX_PATH = 6
PASS_THROUGH_SECONDS = 3 * 86_400.0


class Lot:
    """Loan money of one facility in one account, with the path it took to get there."""

    __slots__ = ("amount", "earmarked", "facility_id", "fresh_share", "fresh_until", "origin",
                 "path", "t0")

    def __init__(self, facility_id: str, amount: float, t0: float, path: tuple[str, ...],
                 *, earmarked: bool = False, origin: float | None = None,
                 fresh_until: float = 0.0, fresh_share: float = 1.0) -> None:
        """Start a lot of ``amount`` drawn at ``t0``; ``path`` = drawdown id then hop ids.

        ``fresh_until``: a lot that arrived by a hop leaves first until then, as the share
        ``fresh_share`` of the transfer that brought it (the rest was own money).
        """
        self.facility_id = facility_id
        self.amount = amount
        self.t0 = t0
        self.path = path
        self.earmarked = earmarked
        self.origin = amount if origin is None else origin
        self.fresh_until = fresh_until
        self.fresh_share = fresh_share

    def to_list(self) -> list[Any]:
        """Return a JSON-ready list."""
        return [self.facility_id, self.amount, self.t0, list(self.path), self.earmarked,
                self.origin, self.fresh_until, self.fresh_share]

    @classmethod
    def from_list(cls, data: list[Any]) -> Lot:
        """Rebuild a lot from ``to_list`` output."""
        facility_id, amount, t0, path, earmarked, origin, fresh, share = data
        return cls(str(facility_id), float(amount), float(t0), tuple(str(p) for p in path),
                   earmarked=bool(earmarked), origin=float(origin), fresh_until=float(fresh),
                   fresh_share=float(share))


Take = tuple[Lot, float]  # a lot and the loan money a payment took from it


class Account:
    """One account of a tracing unit: its owner, its balance and the loan money in it."""

    __slots__ = ("balance", "client_id", "lots")

    def __init__(self, client_id: str, balance: float | None = None) -> None:
        """Start an account of ``client_id``; its balance is unknown until a posting says."""
        self.client_id = client_id
        self.balance = balance
        self.lots: list[Lot] = []

    # ---------------------------------------------------------------- balances

    def before_debit(self, amount: float, balance_after: float | None) -> float | None:
        """Record a debit's balance; return the balance just before it (None if unknown)."""
        if balance_after is not None:
            self.balance = balance_after
            return balance_after + amount
        before = self.balance
        if before is not None:
            self.balance = before - amount
        return before

    def credit(self, amount: float, balance_after: float | None) -> None:
        """Record a credit's balance."""
        if balance_after is not None:
            self.balance = balance_after
        elif self.balance is not None:
            self.balance += amount

    # ---------------------------------------------------------------- lots

    def add_lot(self, lot: Lot) -> None:
        """Put loan money into the account, merging it with a lot of the same facility."""
        for mine in self.lots:
            if (mine.facility_id == lot.facility_id and mine.earmarked == lot.earmarked
                    and mine.fresh_until == lot.fresh_until):
                if lot.amount > mine.amount:
                    mine.path = lot.path  # report the path that carried most of the money
                mine.amount += lot.amount
                mine.origin += lot.origin
                mine.t0 = max(mine.t0, lot.t0)
                mine.fresh_share += lot.fresh_share if lot.fresh_until > 0 else 0.0
                return
        self.lots.append(lot)
        if len(self.lots) > MAX_LOTS:
            self.lots.sort(key=lambda x: -x.amount)
            del self.lots[MAX_LOTS:]

    def take(self, amount: float, before: float | None, facility_id: str | None,
             t: float) -> list[Take]:
        """Return the loan money ``amount`` paid out of this account at ``t`` takes, by lot.

        ``before`` is the balance just before the payment; ``facility_id`` names the facility
        the payment is tagged with (its lots pay first, then lots fresh from a hop).
        """
        lots = self.lots
        if not lots:
            return []
        total = sum(lot.amount for lot in lots)
        balance = max(before, 0.0) if before is not None else max(total, amount)
        if total > balance:  # the balance fell below the lots: they shrank with it
            scale = balance / total if total > 0 else 0.0
            for lot in lots:
                lot.amount *= scale
        taken: list[Take] = []
        left = amount
        if facility_id is not None:
            for lot in lots:
                if lot.facility_id == facility_id and left > 0:
                    part = min(lot.amount, left)
                    lot.amount -= part
                    left -= part
                    balance -= part
                    taken.append((lot, part))
        if left > 0:
            left, balance = self._take_fresh(t, left, balance, taken)
        if left > 0:
            taken.extend(self._pro_rata(left, balance))
        return [(lot, part) for lot, part in taken if part > 0]

    def _take_fresh(self, t: float, left: float, balance: float,
                    taken: list[Take]) -> tuple[float, float]:
        """Pay from money that just arrived by hops, newest hop first.

        The lots of one hop (one ``fresh_until``) ride in the same transfer: paying ``v`` of
        it takes ``fresh_share x v`` from each of them.
        """
        hops: dict[float, list[Lot]] = {}
        for lot in self.lots:
            if lot.fresh_until > t and lot.amount > 0:
                hops.setdefault(lot.fresh_until, []).append(lot)
        for until in sorted(hops, reverse=True):
            if left <= 0:
                break
            group = hops[until]
            volume = min(max(lot.amount / lot.fresh_share for lot in group), left)
            for lot in group:
                part = min(lot.amount, lot.fresh_share * volume)
                lot.amount -= part
                taken.append((lot, part))
            left -= volume
            balance -= volume
        return left, balance

    def _pro_rata(self, amount: float, balance: float) -> list[Take]:
        earmarked = sum(lot.amount for lot in self.lots if lot.earmarked)
        pool = balance - earmarked  # own money plus free lots
        taken: list[Take] = []
        if amount <= pool:
            if pool > 0:
                share = amount / pool
                for lot in self.lots:
                    if not lot.earmarked and lot.amount > 0:
                        part = lot.amount * share
                        lot.amount -= part
                        taken.append((lot, part))
            return taken
        for lot in self.lots:
            if not lot.earmarked and lot.amount > 0:
                taken.append((lot, lot.amount))
                lot.amount = 0.0
        excess = amount - max(pool, 0.0)
        if earmarked > 0 and excess > 0:
            share = min(1.0, excess / earmarked)
            for lot in self.lots:
                if lot.earmarked and lot.amount > 0:
                    part = lot.amount * share
                    lot.amount -= part
                    taken.append((lot, part))
        return taken

    def prune(self, t: float, window: float, floor: float, floor_share: float) -> None:
        """Drop lots older than ``window`` seconds or below the residue floor."""
        self.lots = [
            lot for lot in self.lots
            if t - lot.t0 <= window and lot.amount >= max(floor, floor_share * lot.origin)
        ]

    def loan_money(self) -> float:
        """Return the loan money traced into this account and still in it."""
        return sum(lot.amount for lot in self.lots)

    def to_list(self) -> list[Any]:
        """Return a JSON-ready list."""
        return [self.client_id, self.balance, [lot.to_list() for lot in self.lots]]

    @classmethod
    def from_list(cls, data: list[Any]) -> Account:
        """Rebuild an account from ``to_list`` output."""
        client_id, balance, lots = data
        account = cls(str(client_id), None if balance is None else float(balance))
        account.lots = [Lot.from_list(x) for x in lots]
        return account


def hop_path(path: tuple[str, ...], txn_id: str) -> tuple[str, ...]:
    """Return ``path`` extended by a hop, keeping the drawdown and the latest hops."""
    extended = (*path, txn_id)
    if len(extended) > MAX_PATH:
        extended = (extended[0], *extended[-(MAX_PATH - 1):])
    return extended
