"""Raising early warnings: dedupe per client + rule + scope, escalation, owner, SLA, events.

Every source (transaction rules, statement ratios, external signals, concentration limits)
reports a signal here, inside the caller's transaction. A signal either opens a warning or is
folded into the open warning with the same dedupe key (a worse signal raises its level). A new
warning goes one level up only when corroborated: another rule's open warning concerns the
same facility. Unrelated warnings of a client do not escalate each other (a count of signals
is not evidence). A red or orange warning asks for a re-rating of the client.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.events.v1 import risk_events_pb2
from crm_risk.levels import up
from crm_risk.linked import LINKED_RULES, Linked
from crm_risk.models import ClientFactRow
from crm_risk.models_monitoring import WarningActionRow, WarningRow, WarningSignalRow
from crm_risk.playbook_actions.actions import act_on_warnings
from crm_risk.playbooks import sla_due, worse
from crm_runtime.outbox import Outbox
from crm_runtime.wire import timestamp

RERATE_LEVELS = frozenset({"orange", "red"})
MAX_KEY = 255


@dataclass(frozen=True)
class Signal:
    """One rule hit or external signal about a client."""

    client_id: str
    rule: str
    source: str
    level: str
    scope: str
    message: str
    rule_version: str
    detect_time: datetime
    facility_id: str = ""
    evidence: Sequence[str] = ()
    facts: Mapping[str, object] = field(default_factory=dict)

    @property
    def dedupe_key(self) -> str:
        """Return the key of the one open warning this signal may fold into."""
        return f"{self.client_id}|{self.rule}|{self.scope}"[:MAX_KEY]


@dataclass(frozen=True)
class Outcome:
    """What a signal did: the warning it landed in and whether it opened or raised it."""

    warning: WarningRow
    created: bool
    escalated: bool


def _signal_row(warning_seq: int, signal: Signal) -> WarningSignalRow:
    return WarningSignalRow(
        warning_seq=warning_seq,
        rule=signal.rule,
        rule_version=signal.rule_version,
        level=signal.level,
        message=signal.message,
        evidence_json=json.dumps(list(signal.evidence)),
        facts_json=json.dumps({k: str(v) for k, v in signal.facts.items()}, ensure_ascii=False),
        detect_time=signal.detect_time,
    )


def emit_raised(outbox: Outbox, session: AsyncSession, row: WarningRow) -> None:
    """Add a WarningRaised event for the warning's current level."""
    client = f"clients/{row.client_id}"
    outbox.emit(
        session,
        risk_events_pb2.WarningRaised(
            warning=f"warnings/{row.id}",
            client=client,
            level=row.level,
            rule=row.rule,
            summary=row.summary[:500],
            facility=f"{client}/facilities/{row.facility_id}" if row.facility_id else "",
            sla_due_time=timestamp(row.sla_due_time),
            owner=row.owner,
            raise_time=timestamp(row.raise_time),
        ),
        subject=client,
    )


@dataclass
class _Trail:
    """Rows that need the warning's seq, written after the new warnings are flushed."""

    signals: list[tuple[WarningRow, Signal]] = field(default_factory=list)
    actions: list[tuple[WarningRow, str, str, str, str]] = field(default_factory=list)

    def action(self, row: WarningRow, action: str, actor: str, reason: str,
               from_state: str = "") -> None:
        self.actions.append((row, action, actor, reason, from_state))

    def rows(self, now: datetime) -> list[WarningSignalRow | WarningActionRow]:
        found: list[WarningSignalRow | WarningActionRow] = []
        for row, signal in self.signals:
            assert row.seq is not None
            found.append(_signal_row(row.seq, signal))
        for row, action, actor, reason, from_state in self.actions:
            assert row.seq is not None
            found.append(WarningActionRow(
                warning_seq=row.seq, action=action, from_state=from_state, to_state=row.state,
                level=row.level, actor=actor, reason=reason[:2000], action_time=now,
            ))
        return found


async def raise_signal(
    session: AsyncSession, outbox: Outbox, signal: Signal, *, now: datetime, actor: str,
    contagion: Linked | None = None,
) -> Outcome:
    """Open a warning for `signal` or fold it into the open one with the same key."""
    (outcome,) = await raise_signals(session, outbox, [signal], now=now, actor=actor,
                                     contagion=contagion)
    return outcome


async def raise_signals(
    session: AsyncSession,
    outbox: Outbox,
    signals: Sequence[Signal],
    *,
    now: datetime,
    actor: str,
    contagion: Linked | None = None,
) -> list[Outcome]:
    """Apply signals in order, as `raise_signal` one by one would, with a fixed number of
    statements: the clients' open warnings and facts are read once, new warnings are inserted
    together and their signal and audit rows after them. A warning that turns red spreads
    to related clients through `contagion` (None: not at all)."""
    if not signals:
        return []
    clients = sorted({s.client_id for s in signals})
    open_rows = list((await session.execute(
        select(WarningRow).where(col(WarningRow.client_id).in_(clients),
                                 col(WarningRow.open_key).is_not(None))
    )).scalars())
    facts = {f.client_id: f for f in (await session.execute(
        select(ClientFactRow).where(col(ClientFactRow.client_id).in_(clients))
    )).scalars()}
    by_key = {r.open_key: r for r in open_rows}
    by_client: dict[str, list[WarningRow]] = {}
    for row in open_rows:
        by_client.setdefault(row.client_id, []).append(row)
    trail = _Trail()
    outcomes = []
    for signal in signals:
        fact = facts.get(signal.client_id)
        existing = by_key.get(signal.dedupe_key)
        if existing is not None:
            outcomes.append(_fold(session, outbox, existing, signal, fact=fact, trail=trail,
                                  now=now, actor=actor))
            continue
        others = by_client.setdefault(signal.client_id, [])
        row = _open(signal, others, fact, now)
        session.add(row)
        by_key[row.open_key] = row
        others.append(row)
        trail.signals.append((row, signal))
        trail.action(row, "raised", actor, row.escalation_reason or signal.message)
        emit_raised(outbox, session, row)
        _request_rerate(fact, row, now)
        outcomes.append(Outcome(row, created=True, escalated=row.level != signal.level))
    await session.flush()
    session.add_all(trail.rows(now))
    # The playbook acts on what this call raised or escalated (RED freezes, ORANGE a visit).
    acted = {o.warning.id: o.warning for o in outcomes if o.created or o.escalated}
    await act_on_warnings(session, outbox, list(acted.values()), now=now, actor=actor)
    if contagion is not None:
        await _spread_red(session, outbox, outcomes, contagion, now)
    return outcomes


async def _spread_red(
    session: AsyncSession, outbox: Outbox, outcomes: Sequence[Outcome], contagion: Linked,
    now: datetime,
) -> None:
    """Warn the clients related to each client whose warning just turned red."""
    red = sorted({o.warning.client_id for o in outcomes
                  if (o.created or o.escalated) and o.warning.level == "red"
                  and o.warning.rule not in LINKED_RULES})
    if not red:
        return
    for client_id in red:
        await contagion.spread(session, outbox, client_id, cause="red warning", now=now)


def _open(
    signal: Signal, others: list[WarningRow], fact: ClientFactRow | None, now: datetime
) -> WarningRow:
    """Return a new warning, one level up when an open warning of another rule already
    concerns the same facility (corroborating evidence, not a count of unrelated signals)."""
    corroborating = sorted({
        o.rule for o in others
        if signal.facility_id and o.facility_id == signal.facility_id and o.rule != signal.rule
    })
    level = up(signal.level) if corroborating else signal.level
    reason = ""
    if level != signal.level:
        reason = f"corroborated by open warning(s) on the same facility: {', '.join(corroborating)}"
    return WarningRow(
        id=uuid.uuid4().hex,
        client_id=signal.client_id,
        facility_id=signal.facility_id,
        rule=signal.rule,
        source=signal.source,
        level=level,
        base_level=signal.level,
        escalation_reason=reason,
        state="open",
        summary=signal.message[:2000],
        dedupe_key=signal.dedupe_key,
        open_key=signal.dedupe_key,
        owner=fact.relationship_manager if fact is not None else "",
        sla_due_time=sla_due(level, now),
        raise_time=now,
        update_time=now,
        signal_count=1,
    )


def _fold(
    session: AsyncSession,
    outbox: Outbox,
    row: WarningRow,
    signal: Signal,
    *,
    fact: ClientFactRow | None,
    trail: _Trail,
    now: datetime,
    actor: str,
) -> Outcome:
    """Add a signal to an open warning, raising its level when the signal is worse."""
    trail.signals.append((row, signal))
    row.signal_count += 1
    row.update_time = now
    row.version += 1
    new_level = worse(row.level, signal.level)
    escalated = new_level != row.level
    if escalated:
        row.level = new_level
        row.escalation_reason = f"a {signal.level} signal of the same rule arrived"
        row.sla_due_time = min(row.sla_due_time, sla_due(new_level, now))
        trail.action(row, "escalated", actor, row.escalation_reason, row.state)
        emit_raised(outbox, session, row)
        _request_rerate(fact, row, now)
    session.add(row)
    return Outcome(row, created=False, escalated=escalated)


def _request_rerate(fact: ClientFactRow | None, row: WarningRow, now: datetime) -> None:
    """Ask the review task to re-rate a client with a red or orange warning."""
    if fact is None or row.level not in RERATE_LEVELS:
        return
    fact.rerate_requested = True
    fact.rerate_reason = f"{row.level} warning {row.rule}"[:200]
    fact.update_time = now
