"""What happened to one facility's money: drawdowns, uses (payments of traced loan money) and
money that came back. The rules judge these records; the ledger fills them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

MAX_DRAWS = 64


@dataclass(slots=True)
class Use:
    """One payment that carried loan money of a facility out of the tracing unit."""

    t: float
    loan: float  # traced loan money in the payment
    amount: float  # the whole payment
    payee: str  # payee key (account, else name)
    cls: str  # payee class (classify)
    txn_id: str
    path: tuple[str, ...]  # drawdown id, hop ids
    ordinary: bool  # paid to an entrusted, habitual or purpose-consistent payee
    t0: float  # when the loan money was drawn
    memo: str = ""  # the payment's memo

    def to_list(self) -> list[Any]:
        """Return a JSON-ready list."""
        return [self.t, self.loan, self.amount, self.payee, self.cls, self.txn_id,
                list(self.path), self.ordinary, self.t0, self.memo]

    @classmethod
    def from_list(cls, data: list[Any]) -> Use:
        """Rebuild a use from ``to_list`` output."""
        t, loan, amount, payee, klass, txn_id, path, ordinary, t0, memo = data
        return cls(float(t), float(loan), float(amount), str(payee), str(klass), str(txn_id),
                   tuple(str(p) for p in path), bool(ordinary), float(t0), str(memo))


Draw = tuple[float, float, str, str]  # (time, amount, txn id, account)
Back = tuple[float, float, str, str, str, str]  # (time, amount, source, txn id, how, memo)


class FacilityTrace:
    """Drawdowns of one facility and where its traced money went, pruned by time."""

    __slots__ = ("backs", "client_id", "draws", "facility_id", "uses")

    def __init__(self, facility_id: str, client_id: str) -> None:
        """Start an empty trace."""
        self.facility_id = facility_id
        self.client_id = client_id
        self.draws: deque[Draw] = deque()
        self.uses: deque[Use] = deque()
        self.backs: deque[Back] = deque()

    def draw(self, t: float, amount: float, txn_id: str, account: str) -> None:
        """Record a drawdown."""
        if len(self.draws) >= MAX_DRAWS:
            self.draws.popleft()
        self.draws.append((t, amount, txn_id, account))

    def use(self, use: Use, cap: int) -> None:
        """Record a payment of traced loan money."""
        if len(self.uses) >= cap:
            self.uses.popleft()
        self.uses.append(use)

    def back(self, entry: Back, cap: int) -> None:
        """Record money that came back from a payee of the loan money."""
        if len(self.backs) >= cap:
            self.backs.popleft()
        self.backs.append(entry)

    def last_draw(self) -> float | None:
        """Return the time of the latest drawdown, if any is remembered."""
        return self.draws[-1][0] if self.draws else None

    def drawn_since(self, cutoff: float) -> float:
        """Return the amount drawn at or after ``cutoff``."""
        return sum(d[1] for d in self.draws if d[0] >= cutoff)

    def paid_to(self, payee: str, cutoff: float) -> list[Use]:
        """Return the uses paid to ``payee`` at or after ``cutoff``."""
        return [u for u in self.uses if u.payee == payee and u.t >= cutoff]

    def prune(self, cutoff: float) -> None:
        """Forget records older than ``cutoff``."""
        for queue in (self.draws, self.uses, self.backs):
            while queue and _time(queue[0]) < cutoff:
                queue.popleft()

    def is_empty(self) -> bool:
        """Return whether nothing is remembered."""
        return not (self.draws or self.uses or self.backs)

    def to_list(self) -> list[Any]:
        """Return a JSON-ready list."""
        return [self.client_id, [list(d) for d in self.draws],
                [u.to_list() for u in self.uses], [list(b) for b in self.backs]]

    @classmethod
    def from_list(cls, facility_id: str, data: list[Any]) -> FacilityTrace:
        """Rebuild a trace from ``to_list`` output."""
        client_id, draws, uses, backs = data
        trace = cls(facility_id, str(client_id))
        trace.draws.extend((float(t), float(a), str(i), str(acc)) for t, a, i, acc in draws)
        trace.uses.extend(Use.from_list(u) for u in uses)
        trace.backs.extend((float(t), float(a), str(s), str(i), str(h), str(m))
                           for t, a, s, i, h, m in backs)
        return trace


def _time(entry: Any) -> float:
    return float(entry.t if isinstance(entry, Use) else entry[0])
