"""The monitoring engine: duplicates, dedupe windows, persistence, bounded state, levels."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_risk.monitoring import (
    LEVELS,
    Alert,
    ClientContext,
    FacilityContext,
    MonitoringEngine,
    combined_level,
    load_ruleset,
    validate_transaction,
)
from crm_risk.monitoring.builders import TxnFactory
from crm_risk.monitoring.synthetic import SyntheticData, generate_stream

CLIENT = "C1"
Replay = tuple[SyntheticData, list[list[Alert]]]  # a stream and each transaction's alerts


def plain_engine(**overrides: dict[str, object]) -> MonitoringEngine:
    return MonitoringEngine(load_ruleset(overrides=overrides or None), clients={},
                            facilities={})


def alert_signature(alerts: Sequence[Alert]) -> list[tuple[object, ...]]:
    return [(a.rule_id, a.client_id, a.window_key, tuple(a.evidence_txn_ids), a.level,
             a.message) for a in alerts]


@pytest.fixture(scope="module")
def stream() -> SyntheticData:
    return generate_stream(n_clients=60, seed=5)


@pytest.fixture(scope="module")
def tiny() -> Replay:
    """Return a 15-client stream and the alerts each of its transactions raises in one run."""
    data = generate_stream(n_clients=15, seed=8)
    eng = fresh(data)
    return data, [eng.process(txn) for txn in data.transactions]


def fresh(data: SyntheticData) -> MonitoringEngine:
    return MonitoringEngine(load_ruleset(), clients=data.clients, facilities=data.facilities)


class TestDuplicates:
    def test_redelivered_transaction_is_ignored(self):
        """The same txn id twice raises alerts once and leaves state untouched."""
        eng = plain_engine()
        txn = TxnFactory(CLIENT, balances={"ACC-OP": 1e6}).cash_withdrawal(6e4, hours=1)
        assert len(eng.process(txn)) == 1
        eng.mark_clean()
        before = eng.snapshot()
        assert eng.process(txn) == []
        assert eng.snapshot() == before
        assert eng.dirty_clients() == set()

    def test_duplicates_inside_a_batch_are_dropped(self):
        """A batch that repeats a transaction counts it once toward structuring."""
        f = TxnFactory(CLIENT, balances={"ACC-OP": 1e6})
        first, second = f.cash_withdrawal(48_000, hours=1), f.cash_withdrawal(48_500, hours=2)
        assert plain_engine().process_batch([first, second, first, second]) == []

    @settings(max_examples=20, deadline=None)
    @given(picks=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=40))
    def test_redelivery_anywhere_changes_nothing(self, tiny: Replay, picks: list[float]):
        """Replaying random earlier transactions in a stream never changes its alerts."""
        data, per_txn = tiny
        txns = list(data.transactions)
        for pick in sorted(picks, reverse=True):
            at = round(pick * (len(txns) - 1))
            # Redeliver a transaction from shortly before, as a retrying client would.
            txns.insert(at + 1, txns[max(0, at - 5)])
        expected = [a for alerts in per_txn for a in alerts]
        assert alert_signature(fresh(data).process_batch(txns)) == alert_signature(expected)

    def test_seen_ids_are_bounded_by_the_cap(self):
        """Past the cap, the oldest ids are forgotten (the service dedupes persistently)."""
        eng = plain_engine(tracking={"seen_ids_cap": 100})
        f = TxnFactory(CLIENT, balances={"ACC-OP": 1e9})
        eng.process_batch([f.debit(100.0, hours=i / 60) for i in range(1000)])
        state = eng.client_state(CLIENT)
        assert state is not None
        assert len(state.seen) <= 100


class TestDedupeWindows:
    def test_one_alert_per_rule_scope_window(self):
        """Two large withdrawals in a day alert once; the next day alerts again."""
        f = TxnFactory(CLIENT, balances={"ACC-OP": 1e6})
        txns = [f.cash_withdrawal(6e4, hours=1), f.cash_withdrawal(7e4, hours=5),
                f.cash_withdrawal(8e4, hours=26)]
        alerts = plain_engine().process_batch(txns)
        assert [a.evidence_txn_ids for a in alerts] == [[txns[0].txn_id], [txns[2].txn_id]]
        start = int(txns[0].booked_at.timestamp())
        assert alerts[0].window_key == f"{CLIENT}|cash_structuring|cash_withdrawal|{start}"
        assert alerts[0].raised_at == txns[0].booked_at

    def test_rule_version_names_overrides(self):
        """Alerts cite the plain version, or version+fingerprint under overrides."""
        txn = TxnFactory(CLIENT, balances={"ACC-OP": 1e6}).cash_withdrawal(6e4, hours=1)
        assert plain_engine().process(txn)[0].rule_version == "MON-2026.1"
        tuned = plain_engine(cash_structuring={"cash_threshold": 40_000})
        assert tuned.process(txn)[0].rule_version.startswith("MON-2026.1+")

    def test_disabled_rule_never_fires(self):
        """A rule switched off in the ruleset is not run."""
        txn = TxnFactory(CLIENT, balances={"ACC-OP": 1e6}).cash_withdrawal(6e4, hours=1)
        assert plain_engine(cash_structuring={"enabled": False}).process(txn) == []


class TestPersistence:
    def test_restart_mid_stream_gives_identical_alerts(self, stream: SyntheticData):
        """Snapshot, restore into a new engine, continue: same alerts as without a restart."""
        txns = stream.transactions
        cut = len(txns) // 2
        reference = fresh(stream)
        reference.process_batch(txns[:cut])
        expected = reference.process_batch(txns[cut:])
        first = fresh(stream)
        first.process_batch(txns[:cut])
        restarted = fresh(stream)
        restarted.restore(first.snapshot())
        assert alert_signature(restarted.process_batch(txns[cut:])) == alert_signature(expected)
        assert expected, "the second half of the stream should raise alerts"

    @settings(max_examples=25, deadline=None)
    @given(cut_share=st.floats(min_value=0.0, max_value=1.0))
    def test_restart_anywhere_gives_identical_alerts(self, tiny: Replay, cut_share: float):
        """Whatever transaction the restart falls on, the alerts after it are unchanged."""
        data, per_txn = tiny
        cut = round(cut_share * len(data.transactions))
        before = fresh(data)
        before.process_batch(data.transactions[:cut])
        after = fresh(data)
        after.restore(before.snapshot())
        expected = [a for alerts in per_txn[cut:] for a in alerts]
        assert alert_signature(after.process_batch(data.transactions[cut:])) == (
            alert_signature(expected))

    def test_incremental_saves_of_dirty_clients_restore_the_same_state(
        self, stream: SyntheticData
    ):
        """Persisting only dirty clients after each batch is enough to restart."""
        txns = stream.transactions
        cut = len(txns) * 2 // 3 // 500 * 500
        eng = fresh(stream)
        store: dict[str, bytes] = {}
        for start in range(0, cut, 500):
            eng.process_batch(txns[start:start + 500])
            dirty = eng.dirty_clients()
            store.update(eng.snapshot_clients(dirty))
            eng.mark_clean(dirty)
        assert eng.dirty_clients() == set()
        rest = txns[cut:]
        restarted = fresh(stream)
        for client_id, blob in store.items():
            restarted.restore_client(client_id, blob)
        assert alert_signature(restarted.process_batch(rest)) == alert_signature(
            eng.process_batch(rest)
        )

    def test_dirty_clients_are_those_touched_since_mark_clean(self):
        """Only clients with new transactions are dirty after mark_clean."""
        eng = plain_engine()
        a = TxnFactory("A", balances={"ACC-OP": 1e6})
        b = TxnFactory("B", balances={"ACC-OP": 1e6})
        eng.process_batch([a.debit(1e3, hours=1), b.debit(1e3, hours=1)])
        assert eng.dirty_clients() == {"A", "B"}
        eng.mark_clean()
        eng.process(b.debit(1e3, hours=2))
        assert eng.dirty_clients() == {"B"}

    def test_evicted_client_comes_back_from_its_blob(self):
        """Evicting a client and restoring its blob continues its windows."""
        f = TxnFactory(CLIENT, balances={"ACC-OP": 1e6})
        eng = plain_engine()
        eng.process_batch([f.cash_withdrawal(48_000, hours=h) for h in (1, 2)])
        blob = eng.evict_client(CLIENT)
        assert blob is not None
        assert eng.client_state(CLIENT) is None
        eng.restore_client(CLIENT, blob)
        assert [a.facts["kind"] for a in eng.process(f.cash_withdrawal(48_000, hours=3))] == [
            "cash_split"]

    def test_malformed_snapshots_are_rejected(self):
        """Garbage, another format version or a blob of another client raise ValueError."""
        eng = plain_engine()
        with pytest.raises(ValueError, match="format"):
            eng.restore(json.dumps({"v": 99, "clients": {}}).encode())
        with pytest.raises(ValueError, match="malformed"):
            eng.restore(json.dumps({"v": 1}).encode())
        eng.process(TxnFactory("A", balances={"ACC-OP": 1e6}).debit(1e3, hours=1))
        blob = eng.snapshot_clients(["A"])["A"]
        with pytest.raises(ValueError, match="belongs to"):
            eng.restore_client("B", blob)


class TestBoundedState:
    def test_a_year_of_bookings_does_not_grow_state(self):
        """Windows are pruned by time: state after 12 months is as small as after 6."""
        f = TxnFactory(CLIENT, balances={"ACC-OP": 5e6, "ACC-LN": 0.0})
        facility = FacilityContext("F1", CLIENT, "working_capital", 1e6, "turnover", "ACC-LN")
        eng = MonitoringEngine(load_ruleset(), clients={}, facilities={"F1": facility})
        sizes = []
        for month in range(12):
            batch = []
            for hour in range(month * 30 * 24, (month + 1) * 30 * 24, 2):
                batch.append(f.credit(1_000.0, hours=hour, counterparty_account=f"C-{hour}"))
                batch.append(f.debit(1_000.0, hours=hour + 1, counterparty_account=f"S-{hour}"))
            batch.append(f.drawdown("F1", 1e6, hours=month * 30 * 24 + 5, account="ACC-LN"))
            batch.append(f.debit(1e6, hours=month * 30 * 24 + 6, account="ACC-LN",
                                 counterparty_account=f"P-{month}"))
            eng.process_batch(batch)
            sizes.append(len(eng.snapshot()))
        state = eng.client_state(CLIENT)
        assert state is not None
        # Ids older than the 48 h horizon go at the next housekeeping pass (every 256 bookings).
        assert len(state.seen) <= 48 + 256
        assert all(len(s.outflows) <= 512 for s in state.facilities.values())
        assert all(len(a.days) <= 40 for a in state.accounts.values())
        assert sizes[11] <= sizes[5] * 1.1

    def test_window_entries_are_capped_in_a_burst(self):
        """Thousands of payments of one facility in an hour keep at most the cap."""
        f = TxnFactory(CLIENT, balances={"ACC-OP": 1e9})
        eng = plain_engine(tracking={"max_window_entries": 64})
        eng.process_batch([f.debit(10.0, hours=i / 3600, facility_id="F9",
                                   counterparty_account=f"P-{i}") for i in range(3000)])
        state = eng.client_state(CLIENT)
        assert state is not None
        assert len(state.facilities["F9"].outflows) == 64
        assert len(state.facilities["F9"].paid_to) == 64


class TestContext:
    def test_client_lookup_protocol_and_refresh(self):
        """A lookup object supplies context; refresh_context picks up a change."""
        class Lookup:
            def __init__(self) -> None:
                self.related: frozenset[str] = frozenset()

            def get_client(self, client_id: str) -> ClientContext | None:
                return ClientContext(client_id, related_party_accounts=self.related)

        lookup = Lookup()
        eng = MonitoringEngine(load_ruleset(), clients=lookup, facilities={})
        f = TxnFactory(CLIENT, balances={"ACC-OP": 1e7})
        assert eng.process(f.debit(1e5, hours=1, facility_id="F1",
                                   counterparty_account="REL-1")) == []
        lookup.related = frozenset({"REL-1"})
        eng.refresh_context(CLIENT)
        hits = eng.process(f.debit(1e5, hours=30, facility_id="F1",
                                   counterparty_account="REL-1"))
        assert [a.rule_id for a in hits] == ["related_party"]

    def test_validate_transaction_names_the_bad_field(self):
        """Naive times and non-positive amounts are rejected with the field name."""
        good = TxnFactory(CLIENT).debit(1.0, hours=1)
        validate_transaction(good)
        bad = TxnFactory(CLIENT).debit(-1.0, hours=1)
        with pytest.raises(ValueError, match="amount"):
            validate_transaction(bad)
        naive = TxnFactory(CLIENT, start=good.booked_at.replace(tzinfo=None)).debit(1.0, hours=1)
        with pytest.raises(ValueError, match="booked_at"):
            validate_transaction(naive)


class TestCombinedLevel:
    @pytest.mark.parametrize(("levels", "expected"), [
        (["blue"], "blue"),
        (["blue", "blue"], "blue"),
        (["blue", "blue", "blue"], "yellow"),
        (["yellow", "blue"], "yellow"),
        (["yellow", "yellow"], "orange"),
        (["orange"], "orange"),
        (["orange", "blue"], "red"),
        (["red"], "red"),
    ])
    def test_documented_combinations(self, levels: list[str], expected: str):
        """Signals combine as the docstring says."""
        assert combined_level(levels) == expected

    def test_empty_or_unknown_levels_are_rejected(self):
        """No signals, or a level name that does not exist, is an error."""
        with pytest.raises(ValueError, match="at least one"):
            combined_level([])
        with pytest.raises(ValueError, match="unknown level"):
            combined_level(["purple"])

    @settings(max_examples=200)
    @given(st.lists(st.sampled_from(LEVELS), min_size=1, max_size=6), st.sampled_from(LEVELS))
    def test_adding_a_signal_never_lowers_the_level(self, levels: list[str], extra: str):
        """The combined level is at least the highest input and grows with more signals."""
        rank = {level: i for i, level in enumerate(LEVELS)}
        base = combined_level(levels)
        assert rank[base] >= max(rank[level] for level in levels)
        assert rank[combined_level([*levels, extra])] >= rank[base]
