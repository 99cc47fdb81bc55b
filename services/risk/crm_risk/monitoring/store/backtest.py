"""Rule-set back-tests: replay postings under the rule set in force and a proposed one.

Two engines run side by side over the same postings, both built on the live context cache:
- supplied postings start from a copy of the live state, exactly as the stream would process
  them next, so activating the proposed rule set and streaming them gives its hits;
- stored history (the batch log, within the booking-time window asked for) starts from empty
  state, the same for both rule sets.
A hit is what would become one warning signal: one per client, rule and scope, at its highest
level. Nothing is stored and no warning is raised.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from crm.risk.v1 import monitoring_pb2, warning_pb2
from crm_risk.levels import LEVEL_RANK
from crm_risk.monitoring.engine.model import Alert, Transaction
from crm_risk.monitoring.engine.ruleset import Ruleset
from crm_risk.monitoring.store.convert import to_transactions
from crm_risk.monitoring.store.durable import DurableEngine
from crm_runtime.errors import InvalidArgument

LEVELS = {
    "blue": warning_pb2.WARNING_LEVEL_BLUE, "yellow": warning_pb2.WARNING_LEVEL_YELLOW,
    "orange": warning_pb2.WARNING_LEVEL_ORANGE, "red": warning_pb2.WARNING_LEVEL_RED,
}
MAX_SUPPLIED = 20_000


@dataclass(frozen=True)
class Hit:
    """One client + rule + scope at its highest level, with what raised it."""

    key: str
    alert: Alert

    @property
    def level(self) -> str:
        """Return the hit's level."""
        return self.alert.level


def hits(alerts: Iterable[Alert]) -> dict[str, Hit]:
    """Return the hits of a run of alerts, keyed client|rule|scope."""
    found: dict[str, Hit] = {}
    for alert in alerts:
        key = alert.window_key.rsplit("|", 1)[0]
        mine = found.get(key)
        if mine is None or LEVEL_RANK[alert.level] > LEVEL_RANK[mine.level]:
            found[key] = Hit(key, alert)
    return found


async def replay_supplied(owner: DurableEngine, current: Ruleset, proposed: Ruleset,
                          txns: Sequence[Transaction]) -> tuple[list[Alert], list[Alert]]:
    """Run supplied postings from a copy of the live state under both rule sets."""
    await owner.refresh_for(t.client_id for t in txns)
    snapshot = await owner.snapshot_now()
    runs = []
    for ruleset in (current, proposed):
        engine = owner.new_engine(ruleset)
        engine.restore(snapshot)
        runs.append(engine.process_batch(txns))
    return runs[0], runs[1]


@dataclass
class Replayed:
    """What a replay of stored history covered."""

    postings: int = 0
    first: datetime | None = None
    last: datetime | None = None

    def add(self, txns: Sequence[Transaction]) -> None:
        """Count postings replayed and widen the booking-time span."""
        if not txns:
            return
        self.postings += len(txns)
        first, last = txns[0].booked_at, txns[-1].booked_at
        self.first = first if self.first is None else min(self.first, first)
        self.last = last if self.last is None else max(self.last, last)


async def replay_history(
    owner: DurableEngine, current: Ruleset, proposed: Ruleset, *, start: datetime | None,
    end: datetime | None,
) -> tuple[list[Alert], list[Alert], Replayed]:
    """Run the stored batch log (postings booked in [start, end)) under both rule sets."""
    engines = [owner.new_engine(current), owner.new_engine(proposed)]
    alerts: tuple[list[Alert], list[Alert]] = ([], [])
    replayed = Replayed()
    async for chunk in owner.history():
        for _seq, body in chunk:
            txns = [t for t in await owner.decode(body)
                    if (start is None or t.booked_at >= start)
                    and (end is None or t.booked_at < end)]
            for engine, found in zip(engines, alerts, strict=True):
                found.extend(engine.process_batch(txns))
            replayed.add(txns)
        await asyncio.sleep(0)  # let the stream and other calls run between chunks
    return alerts[0], alerts[1], replayed


def parse_supplied(messages: Sequence[monitoring_pb2.MonitoredTransaction]) -> list[Transaction]:
    """Return supplied postings, or INVALID_ARGUMENT naming the first bad one."""
    if len(messages) > MAX_SUPPLIED:
        raise InvalidArgument.of("transactions", f"at most {MAX_SUPPLIED:,} postings")
    txns, _, rejected = to_transactions(messages)
    if rejected:
        first = rejected[0]
        raise InvalidArgument.of(f"transactions[{first.index}].{first.field}",
                                 first.description, reason=first.reason)
    return txns


def report(
    *, current: Ruleset, proposed: Ruleset, source: str, before: list[Alert],
    after: list[Alert], postings: int, first: datetime | None, last: datetime | None,
    max_changes: int, facility_name: dict[str, str],
) -> monitoring_pb2.MonitoringBacktest:
    """Return the back-test report comparing the two runs."""
    old, new = hits(before), hits(after)
    message = monitoring_pb2.MonitoringBacktest(
        current_label=current.label, proposed_label=proposed.label, source=source,
        postings=postings, clients_current=len({h.alert.client_id for h in old.values()}),
        clients_proposed=len({h.alert.client_id for h in new.values()}),
    )
    if first is not None and last is not None:
        message.first_booking_time.FromDatetime(first)
        message.last_booking_time.FromDatetime(last)
    message.current.extend(_counts(old.values()))
    message.proposed.extend(_counts(new.values()))
    changes: list[tuple[str, Hit | None, Hit | None]] = []
    for key in sorted(set(old) | set(new)):
        was, now = old.get(key), new.get(key)
        if was is None:
            message.new_hits += 1
            changes.append(("new", None, now))
        elif now is None:
            message.gone_hits += 1
            changes.append(("gone", was, None))
        elif was.level != now.level:
            message.level_changes += 1
            changes.append(("level_changed", was, now))
        else:
            message.unchanged_hits += 1
    changes.sort(key=lambda c: -(c[2] or c[1]).alert.raised_at.timestamp())  # type: ignore[union-attr]
    for change, was, now in changes[:max_changes]:
        message.changes.append(_change(change, was, now, facility_name))
    return message


def _counts(found: Iterable[Hit]) -> list[monitoring_pb2.BacktestCount]:
    hits_by: Counter[tuple[str, str]] = Counter()
    clients: dict[tuple[str, str], set[str]] = {}
    for hit in found:
        key = (hit.alert.rule_id, hit.level)
        hits_by[key] += 1
        clients.setdefault(key, set()).add(hit.alert.client_id)
    return [monitoring_pb2.BacktestCount(rule=rule, level=LEVELS[level], hits=count,
                                         clients=len(clients[(rule, level)]))
            for (rule, level), count in sorted(hits_by.items())]


def _change(change: str, was: Hit | None, now: Hit | None,
            facility_name: dict[str, str]) -> monitoring_pb2.BacktestHit:
    shown = now or was
    assert shown is not None
    alert = shown.alert
    hit = monitoring_pb2.BacktestHit(
        change=change, client=f"clients/{alert.client_id}",
        facility=facility_name.get(alert.facility_id or "", ""), rule=alert.rule_id,
        dedupe_key=shown.key,
        current_level=LEVELS[was.level] if was else warning_pb2.WARNING_LEVEL_UNSPECIFIED,
        proposed_level=LEVELS[now.level] if now else warning_pb2.WARNING_LEVEL_UNSPECIFIED,
        message=alert.message, evidence_transactions=alert.evidence_txn_ids,
    )
    hit.detect_time.FromDatetime(alert.raised_at)
    return hit


__all__ = ["Replayed", "hits", "parse_supplied", "replay_history", "replay_supplied", "report"]
