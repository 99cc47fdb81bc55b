"""The monitoring engine: tracing units, posting dispatch, grading and alert dedupe.

For every posting the engine finds the client's tracing unit (the client, or its group at this
bank), classifies the counterparty, moves loan money through the ledger (``ledger``) and asks
the rules what they make of it (``rules``). How a posting is classified is ``classify``; how
much of a payment is loan money is ``ledger``; the level of a hit is ``severity``.

Dedupe. A hit opens a window of ``dedupe_days`` for rule + scope (scope = the facility, account
or sub-pattern); within it only a hit of a higher level is emitted again (the service folds it
into the open warning and raises its level). Corroboration: a hit on a facility that another
rule flagged in the last 30 days is graded one level up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import cast

from crm_risk.levels import LEVEL_RANK
from crm_risk.monitoring.engine import classify as c
from crm_risk.monitoring.engine.history import local_day
from crm_risk.monitoring.engine.model import (
    Alert,
    ClientContext,
    FacilityContext,
    Level,
    Transaction,
)
from crm_risk.monitoring.engine.rules import RULE_CLASSES, Rule
from crm_risk.monitoring.engine.rules.base import DAY, Posting, payee_key
from crm_risk.monitoring.engine.ruleset import Ruleset, as_float, as_int, as_strs
from crm_risk.monitoring.engine.ruleset_versions import PAYEES, TRACKING
from crm_risk.monitoring.engine.severity import graded
from crm_risk.monitoring.engine.spend import Spender
from crm_risk.monitoring.engine.state import UnitState
from crm_risk.monitoring.engine.unit_states import UnitStates
from crm_risk.monitoring.engine.units import (
    ClientLookup,
    FacilityLookup,
    UnitProfile,
    lookups,
    normalise_name,
    unit_id_of,
)

__all__ = ["MonitoringEngine"]

# Housekeeping (expiring lots, traces and windows) runs every MAINTAIN_EVERY postings of a unit
# and, before a posting, when the unit's last pass is a day old: a quiet firm's loan money must
# stop being traced when the window ends, however few postings it has.
MAINTAIN_EVERY = 256  # postings per unit between housekeeping passes (power of two)
MAINTAIN_SECONDS = DAY
CORROBORATION_SECONDS = 30 * DAY
KEEP_BALANCE_DAYS = 40


class MonitoringEngine(UnitStates):
    """Run every enabled rule of a ruleset over a stream of postings.

    Not thread-safe: use one engine per stream partition (the service partitions clients
    across replicas, so a unit's state lives in one engine). The engine trusts its input;
    check postings with ``validate_transaction`` at the service boundary.
    """

    def __init__(
        self,
        ruleset: Ruleset,
        *,
        clients: Mapping[str, ClientContext] | ClientLookup,
        facilities: Mapping[str, FacilityContext] | FacilityLookup,
    ) -> None:
        """Build the rules of ``ruleset`` and attach the context sources."""
        self.ruleset = ruleset
        self._label = ruleset.label
        self._clients, self._facilities, self._mapping = lookups(clients, facilities)
        tracking = ruleset.rule(TRACKING)
        self.trace_seconds = as_float(tracking, "window_days") * DAY
        self.residue_floor = as_float(tracking, "residue_floor")
        self.residue_share = as_float(tracking, "residue_share")
        self._seen_seconds = as_float(tracking, "seen_ids_hours") * 3600.0
        self._seen_cap = as_int(tracking, "seen_ids_cap")
        self.max_entries = as_int(tracking, "max_window_entries")
        self._party_cap = as_int(tracking, "party_cap")
        self.known_seconds = as_float(tracking, "known_payee_days") * DAY
        payees = ruleset.rule(PAYEES)
        self.classifier = c.Classifier(payees)
        self._drawdown_memos = c.keyword_pattern(as_strs(payees, "drawdown_memos"))
        self.spender = Spender(self)
        rules = [
            RULE_CLASSES[rule_id](ruleset.rule(rule_id), self, self.max_entries)
            for rule_id in ruleset.rule_ids
            if ruleset.enabled(rule_id)
        ]
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.use_rules = tuple(r for r in rules if r.use_classes or r.all_uses)
        self._hop_rules = tuple(r for r in rules if r.on_hops)
        self._debit_rules = tuple(r for r in rules if r.on_debits)
        self._receipt_rules = tuple(r for r in rules if r.on_receipts)
        self._states: dict[str, UnitState] = {}
        self._units: dict[str, UnitProfile] = {}  # client id -> its unit's profile
        self._dirty: set[str] = set()
        self._out: list[Alert] = []

    # ----------------------------------------------------------------- processing

    def process(self, txn: Transaction) -> list[Alert]:
        """Process one posting; return the alerts it raised (none for a duplicate)."""
        return self.process_batch((txn,))

    def process_batch(self, txns: Iterable[Transaction]) -> list[Alert]:
        """Process postings in order; return all alerts they raised."""
        out: list[Alert] = []
        self._out = out
        process = self._process
        for txn in txns:
            process(txn)
        return out

    def _process(self, txn: Transaction) -> None:
        client_id = txn.client_id
        unit = self._units.get(client_id)
        if unit is None:
            unit = self._load_unit(client_id)
        state = self._states.get(unit.unit_id)
        if state is None:
            state = self._states[unit.unit_id] = UnitState(unit.unit_id, self._party_cap)
        seen = state.seen
        if txn.txn_id in seen:
            return  # duplicate delivery
        t = txn.booked_at.timestamp()
        seen[txn.txn_id] = t
        if len(seen) > self._seen_cap:
            state.trim_seen(t - self._seen_seconds, self._seen_cap)
        self._dirty.add(unit.unit_id)
        state.first_t = min(state.first_t, t)
        if t - state.maintained_t >= MAINTAIN_SECONDS:
            self._maintain(state, t)
        if txn.direction == "debit":
            self.spender.debit(txn, t, state, unit)
        else:
            self.spender.credit(txn, t, state, unit)
        state.ops += 1
        if not state.ops % MAINTAIN_EVERY:
            self._maintain(state, t)

    def _maintain(self, state: UnitState, t: float) -> None:
        state.maintain(t, trace_seconds=self.trace_seconds, seen_seconds=self._seen_seconds,
                       seen_cap=self._seen_cap, floor=self.residue_floor,
                       floor_share=self.residue_share)

    # ----------------------------------------------------------------- dispatch

    def dispatch_debit(self, p: Posting) -> None:
        """Run the debit rules on a payment."""
        for rule in self._debit_rules:
            rule.on_debit(p)

    def dispatch_hop(self, p: Posting) -> None:
        """Run the hop rules on loan money moving inside the unit."""
        for rule in self._hop_rules:
            rule.on_hop(p)

    def dispatch_receipt(self, p: Posting) -> None:
        """Run the receipt rules on money received."""
        for rule in self._receipt_rules:
            rule.on_receipt(p)

    def drawdown_facility(self, txn: Transaction, unit: UnitProfile) -> str | None:
        """Return the facility a credit draws down, or None if it is not a drawdown."""
        facility_id = txn.facility_id
        if facility_id is not None:
            return facility_id
        account = txn.counterparty_account
        if account and account in unit.loan_accounts:
            return unit.loan_accounts[account]
        drawn_here = unit.drawdown_accounts.get(txn.account_id)
        if not drawn_here:
            return None
        memo = txn.memo
        if txn.channel == "loan" or (
            self._drawdown_memos is not None and memo and self._drawdown_memos.search(memo)
        ):
            own = [f for f in drawn_here if unit.facilities[f].client_id == txn.client_id]
            return own[0] if own else None
        return None

    # ----------------------------------------------------------------- emission

    def emit(
        self, p: Posting, rule: Rule, *, scope: str, client_id: str,
        facility: FacilityContext | None, at_stake: float, evidence: Iterable[str],
        message: str, facts: dict[str, float | str], level: str | None = None,
        ceiling: str | None = None,
    ) -> None:
        """Grade a hit and record it unless its window already alerted at that level.

        ``ceiling`` caps the graded level below the rule's own (weaker evidence).
        """
        state = p.state
        t = p.t
        facility_id = facility.facility_id if facility is not None else None
        if level is None:
            amount = facility.amount if facility is not None else 0.0
            corroborated = facility_id is not None and self._corroborated(
                state, rule.rule_id, facility_id, t)
            level = graded(at_stake=at_stake, facility_amount=amount, red_from=rule.red_from,
                           orange_from=rule.orange_from, ceiling=ceiling or rule.level,
                           corroborated=corroborated)
            if corroborated:
                facts["corroborated"] = "yes"
        rank = LEVEL_RANK[level]
        key = f"{client_id}|{rule.rule_id}|{scope}"
        window = state.windows.get(key)
        if window is not None and t < window[1] and rank <= window[2]:
            return
        start = window[0] if window is not None and t < window[1] else t
        state.windows[key] = (start, max(t + rule.dedupe_seconds,
                                         window[1] if window else 0.0), rank)
        if facility is not None and facility.amount > 0:
            facts.setdefault("facility_share", round(at_stake / facility.amount, 4))
        self._out.append(Alert(
            rule_id=rule.rule_id, rule_version=self._label, level=cast(Level, level),
            client_id=client_id, facility_id=facility_id,
            window_key=f"{client_id}|{rule.rule_id}|{scope}|{int(start)}",
            evidence_txn_ids=list(dict.fromkeys(evidence)), message=message, facts=facts,
            raised_at=p.txn.booked_at,
        ))

    @staticmethod
    def _corroborated(state: UnitState, rule_id: str, facility_id: str, t: float) -> bool:
        """Return whether another rule hit the same facility in the last 30 days.

        A window's scope names the facility alone, or with what the hit was about
        (``facility:payee`` for round trips, ``loan_cash:facility`` for cash).
        """
        for key, (start, _, _) in state.windows.items():
            _, other_rule, scope = key.split("|", 2)
            if (other_rule != rule_id and t - start <= CORROBORATION_SECONDS
                    and facility_id in scope.split(":")):
                return True
        return False

    # ----------------------------------------------------------------- context

    def _load_unit(self, client_id: str) -> UnitProfile:
        context = self._clients.get_client(client_id)
        unit_id = unit_id_of(client_id, context)
        members: list[ClientContext] = [context] if context is not None else []
        ids = [client_id]
        if context is not None and context.group:
            for other in self._clients.group_members(context.group):
                if other != client_id:
                    member = self._clients.get_client(other)
                    if member is not None and member.group == context.group:
                        members.append(member)
                        ids.append(other)
        facilities = [f for cid in ids for f in self._facilities.facilities_for_client(cid)]
        unit = UnitProfile.build(unit_id, members, facilities)
        for cid in ids:
            self._units[cid] = unit
        return unit

    def refresh_context(self, client_id: str | None = None) -> None:
        """Forget cached context of ``client_id``'s unit (all if None) after it changed."""
        if self._mapping is not None:
            self._mapping.refresh()
        if client_id is None:
            self._units.clear()
            return
        unit = self._units.pop(client_id, None)
        if unit is not None:
            for member in unit.clients:
                self._units.pop(member, None)

    def is_own_name(self, unit: UnitProfile, name: str) -> bool:
        """Return whether a counterparty name is one of the unit's members' own names."""
        return bool(name) and bool(unit.own_names) and normalise_name(name) in unit.own_names

    def unit_of(self, client_id: str) -> str:
        """Return the tracing unit of ``client_id`` (loading its context if needed)."""
        unit = self._units.get(client_id)
        return (unit or self._load_unit(client_id)).unit_id

    def has_seen(self, client_id: str, txn_id: str) -> bool:
        """Return whether the engine has processed ``txn_id`` of ``client_id`` recently."""
        state = self._states.get(self.unit_of(client_id))
        return state is not None and txn_id in state.seen

    def balance_day(self, t: float) -> int:
        """Return the Beijing calendar day of ``t`` (for rules)."""
        return local_day(t)

    @staticmethod
    def payee_key(txn: Transaction) -> str:
        """Return the counterparty key of a posting."""
        return payee_key(txn.counterparty_account, txn.counterparty_name)

    KEEP_BALANCE_DAYS = KEEP_BALANCE_DAYS
