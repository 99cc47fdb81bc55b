"""The monitoring engine: per-client state, rule dispatch, alert dedupe, persistence.

How debits are attributed to facilities ("loan money") is described in ``attribution``.

Dedupe. A rule hit opens a window of ``dedupe_hours`` for client + rule + scope (scope = the
facility, account or sub-pattern); further hits inside it are dropped. Escalation across rules
is the service's job; ``combined_level`` says how levels combine.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, cast

from crm_risk.monitoring.attribution import LoanMoneyTracker
from crm_risk.monitoring.config import TRACKING, Ruleset, as_float, as_int
from crm_risk.monitoring.context import (
    ClientLookup,
    ClientProfile,
    FacilityLookup,
    MappingFacilityLookup,
)
from crm_risk.monitoring.levels import combined_level
from crm_risk.monitoring.model import Alert, ClientContext, FacilityContext, Level, Transaction
from crm_risk.monitoring.rules import RULE_CLASSES, Rule
from crm_risk.monitoring.state import FORMAT_VERSION, ClientState

__all__ = ["MonitoringEngine", "combined_level"]

DAY = 86_400.0
MAINTAIN_EVERY = 256  # transactions per client between housekeeping passes (power of two)


class MonitoringEngine:
    """Run every enabled rule of a ruleset over a stream of transactions.

    Not thread-safe: use one engine per stream partition (the service partitions clients
    across replicas, so a client's windows live in one engine). The engine trusts its input;
    check transactions with ``validate_transaction`` at the service boundary.
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
        self._clients = clients
        self._facilities: FacilityLookup = (
            MappingFacilityLookup(facilities) if isinstance(facilities, Mapping) else facilities
        )
        tracking = ruleset.rule(TRACKING)
        self._attribution = as_float(tracking, "attribution_days") * DAY
        self._seen_seconds = as_float(tracking, "seen_ids_hours") * 3600.0
        self._seen_cap = as_int(tracking, "seen_ids_cap")
        self._max_entries = as_int(tracking, "max_window_entries")
        windows = [self._attribution]
        for rule_id in ("round_trip", "fast_in_fast_out", "disguised_repayment"):
            windows.append(as_float(ruleset.rule(rule_id), "window_days") * DAY)
        self._facility_retention = max(windows)
        self._loans = LoanMoneyTracker(
            attribution_seconds=self._attribution, retention_seconds=self._facility_retention,
            max_entries=self._max_entries,
        )
        collapse = ruleset.rule("balance_collapse")
        self._keep_days = int(
            as_float(collapse, "average_days") + as_float(collapse, "drop_days")
        ) + 2
        self._peak_days = max(1, round(as_float(collapse, "drop_days")))
        cash = ruleset.rule("cash_structuring")
        self._band_retention = as_float(cash, "window_hours") * 3600.0
        rules = [
            RULE_CLASSES[rule_id](ruleset.rule(rule_id), self, self._max_entries)
            for rule_id in ruleset.rule_ids
            if ruleset.enabled(rule_id)
        ]
        self.rules: tuple[Rule, ...] = tuple(rules)
        self._debit_rules = tuple(r for r in rules if r.on_all_debits)
        self._facility_rules = tuple(r for r in rules if r.on_facility_debits)
        self._credit_rules = tuple(r for r in rules if r.on_credits)
        self._states: dict[str, ClientState] = {}
        self._profiles: dict[str, ClientProfile] = {}
        self._dirty: set[str] = set()
        self._out: list[Alert] = []

    # ----------------------------------------------------------------- processing

    def process(self, txn: Transaction) -> list[Alert]:
        """Process one transaction; return the alerts it raised (none for a duplicate)."""
        out: list[Alert] = []
        self._out = out
        self._process(txn)
        return out

    def process_batch(self, txns: Iterable[Transaction]) -> list[Alert]:
        """Process transactions in order; return all alerts they raised."""
        out: list[Alert] = []
        self._out = out
        process = self._process
        for txn in txns:
            process(txn)
        return out

    def _process(self, txn: Transaction) -> None:
        client_id = txn.client_id
        state = self._states.get(client_id)
        if state is None:
            state = self._states[client_id] = ClientState(client_id)
        seen = state.seen
        txn_id = txn.txn_id
        if txn_id in seen:
            return  # duplicate delivery
        t = txn.booked_at.timestamp()
        seen[txn_id] = t
        if len(seen) > self._seen_cap:
            state.trim_seen(t - self._seen_seconds, self._seen_cap)
        self._dirty.add(client_id)
        profile = self._profiles.get(client_id)
        if profile is None:
            profile = self._load_profile(client_id)
        account = txn.account_id
        if account not in state.internal_accounts:
            state.add_internal_account(account)
        if txn.direction == "debit":
            flow = None
            if txn.facility_id is not None or account in state.carriers:
                flow = self._loans.attribute(txn, t, state, profile)
            for rule in self._debit_rules:
                rule.on_debit(txn, t, state, profile, flow)
            if flow is not None:
                for rule in self._facility_rules:
                    rule.on_debit(txn, t, state, profile, flow)
        elif txn.facility_id is not None:
            self._loans.drawdown(txn, t, state)
        else:
            for rule in self._credit_rules:
                rule.on_credit(txn, t, state, profile)
        balance = txn.balance_after
        if balance is not None:
            tracked = state.accounts.get(account)
            if tracked is not None and t < tracked.day_end:
                # Same day: the common case, kept inline because it runs for every booking.
                tracked.last_balance = balance
                if balance > tracked.today_max:  # noqa: PLR1730 - max() is a call per booking
                    tracked.today_max = balance
            else:
                state.track_balance(account, t, balance, self._keep_days, self._peak_days)
        state.ops += 1
        if not state.ops % MAINTAIN_EVERY:
            state.maintain(
                t, facility_retention=self._facility_retention,
                attribution_seconds=self._attribution, account_retention=self._keep_days * DAY,
                band_retention=self._band_retention, seen_seconds=self._seen_seconds,
                seen_cap=self._seen_cap,
            )

    def emit(
        self,
        state: ClientState,
        rule: Rule,
        *,
        txn: Transaction,
        t: float,
        scope: str,
        level: str,
        facility_id: str | None,
        evidence: Iterable[str],
        message: str,
        facts: dict[str, float | str],
    ) -> None:
        """Record a hit unless the same client + rule + scope window already alerted."""
        key = f"{rule.rule_id}|{scope}"
        window = state.windows.get(key)
        if window is not None and t < window[1]:
            return
        state.windows[key] = (t, t + rule.dedupe_seconds)
        self._out.append(Alert(
            rule_id=rule.rule_id, rule_version=self._label, level=cast(Level, level),
            client_id=state.client_id, facility_id=facility_id,
            window_key=f"{state.client_id}|{rule.rule_id}|{scope}|{int(t)}",
            evidence_txn_ids=list(dict.fromkeys(evidence)), message=message, facts=facts,
            raised_at=txn.booked_at,
        ))

    # ----------------------------------------------------------------- context

    def _load_profile(self, client_id: str) -> ClientProfile:
        clients = self._clients
        context = (
            clients.get(client_id) if isinstance(clients, Mapping)
            else clients.get_client(client_id)
        )
        profile = ClientProfile.build(
            client_id, context, self._facilities.facilities_for_client(client_id)
        )
        self._profiles[client_id] = profile
        return profile

    def refresh_context(self, client_id: str | None = None) -> None:
        """Forget cached context of ``client_id`` (all clients if None) after it changed."""
        if client_id is None:
            self._profiles.clear()
            if isinstance(self._facilities, MappingFacilityLookup):
                self._facilities.refresh()
        else:
            self._profiles.pop(client_id, None)
            if isinstance(self._facilities, MappingFacilityLookup):
                self._facilities.refresh()

    # ----------------------------------------------------------------- persistence

    def snapshot(self) -> bytes:
        """Return the state of every client as one compact JSON document."""
        document = {
            "v": FORMAT_VERSION,
            "ruleset": self._label,
            "clients": {cid: self._states[cid].to_dict() for cid in sorted(self._states)},
        }
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()

    def restore(self, data: bytes) -> None:
        """Replace all client state with a ``snapshot``; raise ``ValueError`` if malformed."""
        try:
            document: dict[str, Any] = json.loads(data)
            if document.get("v") != FORMAT_VERSION:
                msg = f"unsupported snapshot format {document.get('v')!r}"
                raise ValueError(msg)
            states = {
                str(cid): ClientState.from_dict(raw) for cid, raw in document["clients"].items()
            }
        except (KeyError, TypeError, AttributeError) as exc:
            msg = f"malformed monitoring snapshot: {exc}"
            raise ValueError(msg) from exc
        self._states = states
        self._dirty.clear()

    def snapshot_clients(self, client_ids: Iterable[str]) -> dict[str, bytes]:
        """Return per-client state blobs (e.g. of ``dirty_clients()``) for incremental saves."""
        return {cid: self._states[cid].to_bytes() for cid in client_ids if cid in self._states}

    def restore_client(self, client_id: str, data: bytes) -> None:
        """Load one client's state blob (from ``snapshot_clients``)."""
        state = ClientState.from_bytes(data)
        if state.client_id != client_id:
            msg = f"state blob belongs to {state.client_id!r}, not {client_id!r}"
            raise ValueError(msg)
        self._states[client_id] = state
        self._dirty.discard(client_id)

    def evict_client(self, client_id: str) -> bytes | None:
        """Drop a client's state from memory and return it (None if there was none)."""
        state = self._states.pop(client_id, None)
        self._dirty.discard(client_id)
        self._profiles.pop(client_id, None)
        return None if state is None else state.to_bytes()

    def dirty_clients(self) -> set[str]:
        """Return the clients whose state changed since the last ``mark_clean``."""
        return set(self._dirty)

    def mark_clean(self, client_ids: Iterable[str] | None = None) -> None:
        """Mark ``client_ids`` (all if None) as persisted."""
        if client_ids is None:
            self._dirty.clear()
        else:
            self._dirty.difference_update(client_ids)

    def client_state(self, client_id: str) -> ClientState | None:
        """Return the live state of ``client_id`` (for inspection; do not mutate)."""
        return self._states.get(client_id)

    @property
    def client_count(self) -> int:
        """Return how many clients have state in memory."""
        return len(self._states)
