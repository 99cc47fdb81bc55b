"""Engine mechanics: tracing units, duplicate postings, snapshot and restore, dedupe windows,
grading and what every alert must carry.

The rule tests (``test_risk_monitoring_{diversion,flows}.py``) say what each rule catches; these
say what the engine around the rules guarantees whatever the rule: a group is one unit, a
posting counts once, a restored engine carries on exactly where the original was, a finding is
reported once per window unless it gets worse, and a level follows what is at stake.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from monitoring_support import (
    BASIC,
    DAY,
    LOAN,
    START,
    busy_month,
    client,
    drawdown,
    engine,
    facility,
    factory,
    of,
)

from crm_risk.levels import LEVEL_RANK
from crm_risk.monitoring.engine import LEVELS, MonitoringEngine, load_ruleset
from crm_risk.monitoring.engine.severity import graded
from crm_sim.monitoring.world import generate

BROKER = {"name": "华泰证券客户资金专户", "counterparty_account": "BROKER-1", "kind": "broker",
          "memo": "银证转账"}
AFFILIATE_ACCOUNT = "6228000000000099"
AFFILIATE_NAME = "苏州恒达贸易有限公司"
SECURITIES = load_ruleset().rule("securities_investment")
ROUND_TRIP = load_ruleset().rule("round_trip")
# Rules whose every finding is about one facility's money (the others judge deposits, cash
# days or company-to-personal transfers, which need not involve a loan).
FACILITY_RULES = frozenset({
    "round_trip", "fast_in_fast_out", "securities_investment", "real_estate",
    "entrusted_mismatch", "disguised_repayment",
})


def rank(level: str) -> int:
    return LEVEL_RANK[level]


def group_scenario(*, grouped: bool):
    """C1 draws F1 into its loan account, sends 3 million to C2 (named as a client of this
    bank), and C2 pays 2.9 million of it to a broker."""
    f1, f2 = factory("C1"), factory("C2")
    group = "G1" if grouped else ""
    clients = [client("C1", group=group),
               client("C2", group=group, name=AFFILIATE_NAME, accounts=(AFFILIATE_ACCOUNT,))]
    draw = drawdown(f1, account=LOAN)
    hop_out = f1.debit(3e6, hours=START + 2, account=LOAN, name=AFFILIATE_NAME,
                       counterparty_account=AFFILIATE_ACCOUNT, counterparty_client="C2",
                       memo="往来款")
    hop_in = f2.credit(3e6, hours=START + 2.01, account=AFFILIATE_ACCOUNT,
                       name="苏州恒达机械制造有限公司", counterparty_account=LOAN,
                       counterparty_client="C1", memo="往来款")
    pay = f2.debit(2.9e6, hours=START + 4, account=AFFILIATE_ACCOUNT, **BROKER)
    return engine(facility(account=LOAN), clients=clients), [draw, hop_out, hop_in, pay]


def round_trip_stream():
    """A busy month, a drawdown into the loan account, 4 million to a new firm as 往来款, and
    3 million back from it a week later: a round trip completed by the return."""
    f = factory()
    txns = [*busy_month(f), drawdown(f, account=LOAN)]
    txns.append(f.debit(4e6, hours=START + 3, account=LOAN, name="甲商贸有限公司",
                        counterparty_account="SHELL-X", memo="往来款"))
    txns.append(f.credit(1.5e6, hours=START + 6 * DAY, name="甲商贸有限公司",
                         counterparty_account="SHELL-X", memo="退款"))
    txns.append(f.credit(1.5e6, hours=START + 7 * DAY, name="甲商贸有限公司",
                         counterparty_account="SHELL-X", memo="退款"))
    return txns


class TestGroupIsOneUnit:
    def test_loan_money_sent_to_an_affiliate_and_on_to_a_broker_is_the_borrowers(self):
        """C1's loan money goes to its group affiliate C2, which buys securities with it: the
        warning is C1's, about C1's facility, and cites the drawdown, the hop and the payment."""
        eng, txns = group_scenario(grouped=True)
        draw, hop_out, _, pay = txns
        (alert,) = of("securities_investment", eng.process_batch(txns))
        assert (alert.client_id, alert.facility_id) == ("C1", "F1")
        assert "F1" in alert.message
        assert [draw.txn_id, hop_out.txn_id, pay.txn_id] == alert.evidence_txn_ids[:3]
        assert float(alert.facts["loan_money"]) == pytest.approx(2.9e6)
        assert eng.unit_of("C1") == eng.unit_of("C2") == "g:G1"

    def test_the_same_transfer_to_a_firm_outside_the_group_is_not_traced(self):
        """Without a common group C2 is another unit: what it does with money it received
        is its own business, and C1's facility is not warned about a broker payment."""
        eng, txns = group_scenario(grouped=False)
        assert of("securities_investment", eng.process_batch(txns)) == []
        assert eng.unit_of("C1") != eng.unit_of("C2")

    def test_the_lot_lands_in_the_affiliates_account(self):
        """After the hop the group unit's ledger holds F1's money in C2's account, owned by
        C2, with the hop on its path; nothing was created or lost on the way."""
        eng, txns = group_scenario(grouped=True)
        draw, hop_out, hop_in, _ = txns
        eng.process_batch([draw, hop_out, hop_in])
        state = eng.unit_state("g:G1")
        assert state is not None
        there = state.accounts[AFFILIATE_ACCOUNT]
        assert there.client_id == "C2"
        (lot,) = there.lots
        assert (lot.facility_id, lot.path) == ("F1", (draw.txn_id, hop_out.txn_id))
        total = sum(a.loan_money() for a in state.accounts.values())
        assert total == pytest.approx(5e6)


class TestDuplicates:
    def test_a_posting_resent_in_the_same_and_a_later_batch_counts_once(self):
        """Core banking resends the broker payment within the batch and again the next day:
        one warning, one use of the loan money, and the estimated balance moves once."""
        f = factory()
        draw = drawdown(f, account=LOAN)  # the feed states the balance after the drawdown ...
        pay = f.debit(2e6, hours=START + 3, account=LOAN, track_balance=False, **BROKER)
        eng = engine(facility(account=LOAN))  # ... and leaves it out on the payment
        first = eng.process_batch([draw, pay, pay])
        later = eng.process_batch([pay, draw])
        assert len(of("securities_investment", first)) == 1
        assert later == []
        state = eng.unit_state("c:C1")
        assert state is not None
        account = state.accounts[LOAN]
        assert account.balance == pytest.approx(3e6)
        assert account.loan_money() == pytest.approx(3e6)
        assert len(state.traces["F1"].uses) == 1 and len(state.traces["F1"].draws) == 1
        assert eng.has_seen("C1", pay.txn_id)

    def test_a_resent_drawdown_does_not_double_the_loan_money(self):
        """A drawdown delivered twice still puts the facility's amount in the account once,
        so a later payment's loan share is measured against the true loan money."""
        f = factory()
        draw = drawdown(f, account=BASIC)
        eng = engine(facility())
        eng.process_batch([draw])
        eng.process_batch([draw])
        state = eng.unit_state("c:C1")
        assert state is not None
        assert state.accounts[BASIC].loan_money() == pytest.approx(5e6)


class TestSnapshotRestore:
    @pytest.mark.parametrize("split", [30, -2, -1])
    def test_a_restored_engine_raises_what_the_original_would_have(self, split):
        """The service checkpoints mid-stream and restarts; the round trip whose money comes
        back after the checkpoint is caught exactly as by an engine that never stopped."""
        txns = round_trip_stream()
        whole = engine(facility(account=LOAN)).process_batch(txns)
        assert len(of("round_trip", whole)) == 1

        first = engine(facility(account=LOAN))
        before = first.process_batch(txns[:split])
        blob = first.snapshot()
        revived = engine(facility(account=LOAN))
        revived.restore(blob)
        after = revived.process_batch(txns[split:])
        assert before + after == whole
        assert of("round_trip", after)  # the finding came after the checkpoint

    def test_the_snapshot_survives_a_json_round_trip_unchanged(self):
        """The checkpoint is stored as text and read back: the bytes decode to JSON, and an
        engine restored from the re-encoded document snapshots to the same bytes."""
        txns = round_trip_stream()
        eng = engine(facility(account=LOAN))
        eng.process_batch(txns[:-1])
        blob = eng.snapshot()
        document = json.loads(blob.decode("utf-8"))
        assert set(document) == {"v", "ruleset", "units"} and list(document["units"]) == ["c:C1"]
        revived = engine(facility(account=LOAN))
        revived.restore(json.dumps(document, ensure_ascii=True).encode("ascii"))
        assert revived.snapshot() == blob
        assert revived.process_batch(txns[-1:]) == eng.process_batch(txns[-1:])

    def test_per_unit_blobs_restore_the_same_state(self):
        """Incremental checkpoints: the dirty units' blobs restore unit by unit, a clean
        engine has nothing dirty, and a blob refuses to load under another unit's id."""
        eng, txns = group_scenario(grouped=True)
        eng.process_batch(txns[:3])
        assert eng.dirty_units() == {"g:G1"}
        blobs = eng.snapshot_units(eng.dirty_units())
        eng.mark_clean(blobs)
        assert eng.dirty_units() == set()
        revived, _ = group_scenario(grouped=True)
        revived.restore_unit("g:G1", blobs["g:G1"])
        assert revived.snapshot() == eng.snapshot()
        assert revived.process_batch(txns[3:]) == eng.process_batch(txns[3:])
        with pytest.raises(ValueError, match="belongs to"):
            revived.restore_unit("c:C9", blobs["g:G1"])

    def test_a_malformed_or_foreign_snapshot_is_refused(self):
        """A checkpoint of another format version or a truncated one is an error, not an
        empty engine."""
        eng = engine(facility())
        with pytest.raises(ValueError, match="unsupported"):
            eng.restore(json.dumps({"v": 999, "units": {}}).encode())
        with pytest.raises(ValueError, match="malformed"):
            eng.restore(json.dumps({"v": json.loads(eng.snapshot())["v"]}).encode())
        with pytest.raises(ValueError):
            eng.restore(b'{"v": 2, "units": {"c:C1": ')

    def test_a_book_checkpointed_half_way_gives_the_same_alerts(self):
        """A generated book of 60 firms over 45 days, checkpointed after half its postings:
        the restored engine's alerts continue the original's exactly."""
        world = generate(n_clients=60, seed=41, days=45)
        txns = world.transactions
        half = len(txns) // 2

        def fresh() -> MonitoringEngine:
            return MonitoringEngine(load_ruleset(), clients=world.clients,
                                    facilities=world.facilities)

        whole = fresh().process_batch(txns)
        first = fresh()
        before = first.process_batch(txns[:half])
        revived = fresh()
        revived.restore(first.snapshot())
        after = revived.process_batch(txns[half:])
        assert after, "the second half of the book should raise something"
        assert before + after == whole


class TestDedupe:
    def test_a_finding_repeated_within_the_window_is_reported_once_then_again_after(self):
        """Loan money goes to a broker, again five days later (same level, same facility),
        and again after the 30-day window: two warnings, each opening its own window."""
        assert SECURITIES["dedupe_days"] == 30.0
        f = factory()
        txns = [drawdown(f, account=LOAN),
                f.debit(2e6, hours=START + 3, account=LOAN, **BROKER),
                f.debit(1e6, hours=START + 5 * DAY, account=LOAN, **BROKER),
                f.debit(1e6, hours=START + 35 * DAY, account=LOAN, **BROKER)]
        alerts = of("securities_investment", engine(facility(account=LOAN)).process_batch(txns))
        assert [a.level for a in alerts] == ["red", "red"]
        assert [a.raised_at for a in alerts] == [txns[1].booked_at, txns[3].booked_at]
        first, second = alerts
        assert first.window_key != second.window_key
        assert first.window_key.startswith("C1|securities_investment|F1|")
        assert {a.facility_id for a in alerts} == {"F1"}

    def test_a_finding_that_gets_worse_is_reported_again_in_the_same_window(self):
        """0.6 million of a 10 million facility to a broker (orange), then 1.6 million more
        (together red) in the same window: a second warning at red with the same window key,
        which the service folds into the open warning; more of the same stays silent."""
        f = factory()
        txns = [drawdown(f, amount=1e7, account=LOAN),
                f.debit(6e5, hours=START + 3, account=LOAN, **BROKER),
                f.debit(1.6e6, hours=START + 2 * DAY, account=LOAN, **BROKER),
                f.debit(1e6, hours=START + 4 * DAY, account=LOAN, **BROKER)]
        eng = engine(facility(account=LOAN, amount=1e7))
        alerts = of("securities_investment", eng.process_batch(txns))
        assert [a.level for a in alerts] == ["orange", "red"]
        assert alerts[0].window_key == alerts[1].window_key
        assert set(alerts[0].evidence_txn_ids) < set(alerts[1].evidence_txn_ids)

    def test_another_facility_is_another_window(self):
        """Two facilities drawn into two accounts both reach a broker on the same day: one
        warning each, since the scope of the securities rule is the facility."""
        f = factory()
        txns = [drawdown(f, "F1", account=LOAN), drawdown(f, "F2", account=BASIC, hours=START),
                f.debit(2e6, hours=START + 3, account=LOAN, **BROKER),
                f.debit(7e6, hours=START + 4, account=BASIC, **BROKER)]
        loans = (facility("F1", account=LOAN), facility("F2", account=BASIC))
        alerts = of("securities_investment", engine(*loans).process_batch(txns))
        assert sorted(a.facility_id for a in alerts) == ["F1", "F2"]


class TestSeverity:
    @given(a=st.floats(0, 2e8), b=st.floats(0, 2e8), amount=st.floats(1e4, 1e8),
           ceiling=st.sampled_from(LEVELS), corroborated=st.booleans())
    def test_more_money_at_stake_never_lowers_the_level(self, a, b, amount, ceiling,
                                                        corroborated):
        """Whatever the facility and the rule's ceiling, more traced loan money at stake is
        graded at least as high."""
        low, high = sorted((a, b))
        args = {"facility_amount": amount, "red_from": 0.2, "orange_from": 0.05,
                "ceiling": ceiling, "corroborated": corroborated}
        assert rank(graded(at_stake=low, **args)) <= rank(graded(at_stake=high, **args))

    @given(share=st.floats(0, 3), ceiling=st.sampled_from(LEVELS))
    def test_red_only_from_red_from_and_never_above_the_ceiling(self, share, ceiling):
        """Uncorroborated, a hit is red exactly when its share of the facility reaches
        red_from (and the rule may go red), and never above the rule's own level."""
        stake = share * 1e7
        level = graded(at_stake=stake, facility_amount=1e7, red_from=0.2, orange_from=0.05,
                       ceiling=ceiling)
        uncapped = graded(at_stake=stake, facility_amount=1e7, red_from=0.2, orange_from=0.05,
                          ceiling="red")
        assert (uncapped == "red") == (stake / 1e7 >= 0.2)
        assert (uncapped == "yellow") == (stake / 1e7 < 0.05)
        assert level == LEVELS[min(rank(uncapped), rank(ceiling))]

    def test_a_rule_that_never_goes_red_alone_goes_red_only_when_corroborated(self):
        """red_from above 1 means never: the whole facility at stake is orange, and only a
        second pattern on the facility lifts it to red (one level above the ceiling)."""
        plain = graded(at_stake=5e6, facility_amount=5e6, red_from=1.1, orange_from=0.1,
                       ceiling="orange")
        lifted = graded(at_stake=5e6, facility_amount=5e6, red_from=1.1, orange_from=0.1,
                        ceiling="orange", corroborated=True)
        small = graded(at_stake=1e5, facility_amount=5e6, red_from=1.1, orange_from=0.1,
                       ceiling="orange", corroborated=True)
        assert (plain, lifted, small) == ("orange", "red", "orange")

    @pytest.mark.parametrize(("paid", "level"), [(4e5, "yellow"), (1e6, "orange"),
                                                 (2e6, "red"), (6e6, "red")])
    def test_the_share_of_the_facility_sent_to_a_broker_sets_the_level(self, paid, level):
        """A 10 million facility: 4% of it at a broker is yellow, 10% orange, from 20% red
        (securities red_from), and the warning says the share it was graded on."""
        f = factory()
        txns = [drawdown(f, amount=1e7, account=LOAN),
                f.debit(paid, hours=START + 3, account=LOAN, **BROKER)]
        (alert,) = of("securities_investment", engine(facility(account=LOAN, amount=1e7))
                      .process_batch(txns))
        assert alert.level == level
        assert alert.facts["facility_share"] == pytest.approx(paid / 1e7)
        assert (alert.level == "red") == (paid / 1e7 >= SECURITIES["red_from"])

    def test_a_busy_account_grades_by_the_traced_loan_money_not_the_payment(self):
        """The same broker payment from a busy account holding much own money carries less
        loan money than from the dedicated loan account, so it is graded no higher."""
        levels = {}
        for account, opening in ((LOAN, 0.0), (BASIC, 2e7)):
            f = factory(basic=opening)
            txns = [drawdown(f, amount=1e7, account=account),
                    f.debit(2.5e6, hours=START + 3, account=account, **BROKER)]
            (alert,) = of("securities_investment",
                          engine(facility(account=account, amount=1e7)).process_batch(txns))
            levels[account] = alert
        dedicated, busy = levels[LOAN], levels[BASIC]
        assert float(busy.facts["loan_money"]) == pytest.approx(2.5e6 / 3)
        assert rank(busy.level) <= rank(dedicated.level)
        assert (dedicated.level, busy.level) == ("red", "orange")

    def test_a_broker_payment_corroborates_a_later_round_trip_on_the_facility(self):
        """10% of F1 goes to a broker (orange), then F1's money sent round through a new firm
        comes back: the round trip on a facility another rule flagged is one level up."""
        f = factory()
        txns = [*busy_month(f), drawdown(f, amount=1e7, account=LOAN)]
        txns += [f.debit(1e6, hours=START + 2, account=LOAN, **BROKER),
                 f.debit(4e6, hours=START + 3, account=LOAN, name="甲商贸有限公司",
                         counterparty_account="SHELL-X", memo="往来款"),
                 f.credit(3e6, hours=START + 5 * DAY, name="甲商贸有限公司",
                          counterparty_account="SHELL-X", memo="退款")]
        alerts = engine(facility(account=LOAN, amount=1e7)).process_batch(txns)
        (broker,) = of("securities_investment", alerts)
        (trip,) = of("round_trip", alerts)
        assert broker.level == "orange" and "corroborated" not in broker.facts
        uncorroborated = graded(at_stake=float(trip.facts["facility_share"]) * 1e7,
                                facility_amount=1e7, red_from=ROUND_TRIP["red_from"],
                                orange_from=ROUND_TRIP["orange_from"], ceiling="red")
        assert trip.facts["corroborated"] == "yes"
        assert rank(trip.level) == rank(uncorroborated) + 1

    def test_a_round_trip_on_the_facility_corroborates_a_later_broker_payment(self):
        """F1's money went round through a new firm (round trip, orange); five days later
        another 10% of F1 goes to a broker: another rule flagged the facility within 30 days,
        so the securities hit is corroborated and goes one level up, to red."""
        f = factory()
        txns = [*busy_month(f), drawdown(f, amount=1e7, account=LOAN)]
        txns += [f.debit(4e6, hours=START + 3, account=LOAN, name="甲商贸有限公司",
                         counterparty_account="SHELL-X", memo="往来款"),
                 f.credit(3e6, hours=START + 5 * DAY, name="甲商贸有限公司",
                          counterparty_account="SHELL-X", memo="退款"),
                 f.debit(1e6, hours=START + 6 * DAY, account=LOAN, **BROKER)]
        alerts = engine(facility(account=LOAN, amount=1e7)).process_batch(txns)
        (trip,) = of("round_trip", alerts)
        assert trip.facility_id == "F1"
        (broker,) = of("securities_investment", alerts)
        assert broker.facts.get("corroborated") == "yes"
        assert broker.level == "red"


@pytest.fixture(scope="module")
def book():
    """A generated book of 60 firms over 45 days and the engine's alerts on it."""
    world = generate(n_clients=60, seed=43, days=45)
    alerts = MonitoringEngine(load_ruleset(), clients=world.clients,
                              facilities=world.facilities).process_batch(world.transactions)
    return world, alerts


class TestEveryAlert:
    def test_evidence_names_postings_of_the_stream_booked_no_later_than_the_alert(self, book):
        """Every warning on a generated book cites postings that were fed in, of the
        client's own unit, none of them after the posting that raised it."""
        world, alerts = book
        assert len(alerts) >= 10
        booked = {t.txn_id: t for t in world.transactions}
        for alert in alerts:
            assert alert.evidence_txn_ids, alert
            assert len(set(alert.evidence_txn_ids)) == len(alert.evidence_txn_ids)
            group = world.clients[alert.client_id].group
            for txn_id in alert.evidence_txn_ids:
                txn = booked[txn_id]
                assert txn.booked_at <= alert.raised_at
                assert txn.client_id == alert.client_id or (
                    group and world.clients[txn.client_id].group == group)

    def test_facility_findings_name_a_facility_of_the_client(self, book):
        """Warnings about loan money name the facility, which belongs to the warned client,
        and their window key is client, rule and a scope naming the facility."""
        world, alerts = book
        about_loans = [a for a in alerts if a.rule_id in FACILITY_RULES]
        assert about_loans
        for alert in about_loans:
            assert alert.facility_id is not None, alert
            assert world.facilities[alert.facility_id].client_id == alert.client_id
            client_id, rule_id, scope, start = alert.window_key.split("|")
            assert (client_id, rule_id) == (alert.client_id, alert.rule_id)
            assert alert.facility_id in scope and int(start) <= alert.raised_at.timestamp()
            assert alert.rule_version == load_ruleset().label

    def test_the_scenario_alerts_cite_their_inputs(self):
        """On the hand-written group scenario the warning's evidence is a subset of the
        postings fed in and its facility is the borrower's."""
        eng, txns = group_scenario(grouped=True)
        alerts = eng.process_batch(txns)
        assert alerts
        ids = {t.txn_id for t in txns}
        for alert in alerts:
            assert set(alert.evidence_txn_ids) <= ids
            assert alert.facility_id == "F1"
