"""The labelled synthetic stream and the quality the rules reach on it (measured, not assumed)."""

from __future__ import annotations

from collections import defaultdict

import pytest

from crm_risk.monitoring import load_ruleset, validate_transaction
from crm_risk.monitoring.evaluate import (
    MAX_FALSE_WARNING_RATE,
    MIN_RECALL,
    Evaluation,
    PatternResult,
    evaluate,
    format_report,
    main,
)
from crm_risk.monitoring.synthetic import PATTERNS, SyntheticData, generate_stream


@pytest.fixture(scope="module")
def small() -> SyntheticData:
    return generate_stream(n_clients=40, seed=9)


@pytest.fixture(scope="module")
def portfolio() -> SyntheticData:
    return generate_stream(n_clients=300, seed=11)


def fingerprint(data: SyntheticData) -> list[tuple[object, ...]]:
    return [(t.txn_id, t.booked_at, t.amount, t.counterparty_name, t.balance_after)
            for t in data.transactions]


class TestSyntheticStream:
    def test_same_seed_same_stream(self, small: SyntheticData):
        """Generation is deterministic by seed; another seed gives another stream."""
        again = generate_stream(n_clients=40, seed=9)
        assert fingerprint(again) == fingerprint(small)
        assert again.labels == small.labels
        assert fingerprint(generate_stream(n_clients=40, seed=10)) != fingerprint(small)

    def test_every_pattern_is_injected_even_in_a_small_portfolio(self):
        """Twelve clients still carry at least one instance of every pattern."""
        data = generate_stream(n_clients=12, seed=1)
        assert {label.pattern for label in data.labels} == set(PATTERNS)

    def test_stream_is_time_ordered_unique_and_valid(self, small: SyntheticData):
        """Transactions are in booking order, ids unique, every field valid."""
        txns = small.transactions
        assert [t.booked_at for t in txns] == sorted(t.booked_at for t in txns)
        assert len({t.txn_id for t in txns}) == len(txns)
        for txn in txns:
            validate_transaction(txn)

    def test_balances_follow_the_bookings(self, small: SyntheticData):
        """Each account's balance moves by exactly the booked amount, and never below zero."""
        last: dict[str, float] = {}
        for txn in small.transactions:
            assert txn.balance_after is not None
            assert txn.balance_after >= 0
            if txn.account_id in last:
                delta = txn.amount if txn.direction == "credit" else -txn.amount
                assert txn.balance_after == pytest.approx(last[txn.account_id] + delta, abs=0.02)
            last[txn.account_id] = txn.balance_after

    def test_labels_point_at_real_transactions_of_their_client(self, small: SyntheticData):
        """Each label's transactions exist, belong to its client and fall in its window."""
        by_id = {t.txn_id: t for t in small.transactions}
        for label in small.labels:
            assert label.txn_ids, label
            for txn_id in label.txn_ids:
                txn = by_id[txn_id]
                assert txn.client_id == label.client_id
                assert label.start <= txn.booked_at <= label.end
            if label.facility_id is not None:
                assert small.facilities[label.facility_id].client_id == label.client_id

    def test_clean_clients_are_exactly_those_without_labels(self, small: SyntheticData):
        """The clean population excludes every labelled client and nobody else."""
        labelled = {label.client_id for label in small.labels}
        assert small.clean_client_ids.isdisjoint(labelled)
        assert small.clean_client_ids | labelled == set(small.clients)

    def test_clean_clients_look_like_real_firms(self, small: SyntheticData):
        """Clean clients have the flows that trip naive rules: banks, cash, K70, persons."""
        kinds: defaultdict[str, int] = defaultdict(int)
        for txn in small.transactions:
            if txn.client_id not in small.clean_client_ids:
                continue
            if "银行" in txn.counterparty_name:
                kinds["bank_named"] += 1
            if txn.is_cash:
                kinds["cash"] += 1
            if txn.counterparty_industry.startswith("K70"):
                kinds["property"] += 1
            if txn.counterparty_type == "individual":
                kinds["person"] += 1
            if txn.facility_id and txn.direction == "credit":
                kinds["drawdown"] += 1
        assert all(kinds[k] > 0 for k in ("bank_named", "cash", "property", "person",
                                          "drawdown")), dict(kinds)

    @pytest.mark.parametrize("kwargs", [
        {"n_clients": 0, "seed": 1},
        {"n_clients": 10, "seed": 1, "days": 10},
        {"n_clients": 10, "seed": 1, "misuse_share": 1.5},
    ])
    def test_invalid_arguments_are_rejected(self, kwargs: dict[str, int | float]):
        """Empty portfolios, too short streams and impossible shares raise ValueError."""
        with pytest.raises(ValueError):
            generate_stream(**kwargs)  # type: ignore[arg-type]


class TestQualityGoals:
    def test_recall_and_false_warning_rate_meet_the_goals(self, portfolio: SyntheticData):
        """On 300 clients every pattern is found >= 95% of the time; clean clients <= 2%."""
        result = evaluate(portfolio)
        report = format_report(result)
        for pattern in result.patterns:
            assert pattern.injected > 0, report
            assert pattern.recall >= MIN_RECALL, report
        assert result.false_warning_rate <= MAX_FALSE_WARNING_RATE, report
        assert result.meets_goals()

    def test_naive_rules_would_flood_the_clean_clients(self, portfolio: SyntheticData):
        """Without the exemptions the clean stream trips the rules: it is messy on purpose."""
        naive = load_ruleset(overrides={
            "real_estate": {"exempt_industries": []},
            "disguised_repayment": {"exempt_name_keywords": [], "min_amount": 0},
            "cash_structuring": {"min_count": 1},
            "round_trip": {"min_return_amount": 0, "return_share": 0.05},
        })
        assert evaluate(portfolio, naive).false_warning_rate > 0.1

    def test_goal_check_fails_on_low_recall_or_noise(self):
        """meets_goals is false when one pattern misses or clean clients are noisy."""
        good = PatternResult("round_trip", injected=20, detected=20, alerts=20, attributed=20)
        weak = PatternResult("real_estate", injected=20, detected=18, alerts=18, attributed=18)
        base = {"clean_clients": 100, "transactions": 1, "alerts": 1, "engine_seconds": 1.0}
        assert Evaluation([good], clean_with_alerts=2, **base).meets_goals()
        assert not Evaluation([good, weak], clean_with_alerts=0, **base).meets_goals()
        assert not Evaluation([good], clean_with_alerts=3, **base).meets_goals()


class TestCommand:
    def test_prints_the_table_and_passes_the_check(self, capsys):
        """The command prints a row per pattern and the false-warning rate; --check passes."""
        code = main(["--clients", "30", "--seed", "4", "--check"])
        out = capsys.readouterr().out
        for pattern in PATTERNS:
            assert pattern in out
        assert "false-warning rate" in out
        assert code == 0, out
        assert "goals not met" not in out
