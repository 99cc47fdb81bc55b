"""The attribution rule of ``crm_risk.monitoring.engine.ledger`` on one account, and lots on
the move.

An account's balance is own money plus lots of loan money. A payment takes from every lot in
proportion to its share of the balance just before it; receipts dilute; lots never exceed the
balance. Exceptions: a payment tagged with a facility is its money first, money fresh from a
hop leaves first, an entrusted facility's money is earmarked (own money first). Lots follow
transfers to the unit's other accounts and expire after the tracking window or below the
residue floor. The property tests check the invariants under any sequence of postings.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from monitoring_support import (
    BASIC,
    DAY,
    GENERAL,
    LOAN,
    START,
    busy_month,
    drawdown,
    engine,
    facility,
    factory,
    move,
)

from crm_risk.monitoring.engine import load_ruleset
from crm_risk.monitoring.engine.ledger import (
    MAX_PATH,
    PASS_THROUGH_SECONDS,
    Account,
    Lot,
    hop_path,
)

T0 = 1_780_000_000.0  # a drawdown's booking time, epoch seconds
HOUR = 3600.0
TRACKING = load_ruleset().rule("tracking")
WINDOW = float(TRACKING["window_days"]) * 86_400.0
FLOOR = float(TRACKING["residue_floor"])
FLOOR_SHARE = float(TRACKING["residue_share"])
BROKER = {"name": "华泰证券客户资金专户", "counterparty_account": "BROKER-1", "kind": "broker",
          "memo": "银证转账"}


def funded(own: float, *lots: Lot) -> Account:
    """Return an account holding ``own`` money and the given lots (credited as drawdowns)."""
    account = Account("C1", own)
    for lot in lots:
        account.credit(lot.amount, None)
        account.add_lot(lot)
    return account


def pay(account: Account, amount: float, *, t: float = T0 + HOUR,
        facility_id: str | None = None) -> dict[str, float]:
    """Book a payment with the balance the feed reports; return loan money taken per facility."""
    assert account.balance is not None
    before = account.before_debit(amount, account.balance - amount)
    taken: dict[str, float] = {}
    for lot, part in account.take(amount, before, facility_id, t):
        taken[lot.facility_id] = taken.get(lot.facility_id, 0.0) + part
    return taken


def per_facility(account: Account) -> dict[str, float]:
    out: dict[str, float] = {}
    for lot in account.lots:
        out[lot.facility_id] = out.get(lot.facility_id, 0.0) + lot.amount
    return out


class TestProRata:
    def test_the_documented_busy_account_example(self):
        """5,000万 drawn into a basic account holding 1,000万: each later payment is five
        sixths loan money, and so is the next one (the share does not change by paying)."""
        account = funded(1e7, Lot("F1", 5e7, T0, ("D1",)))
        assert pay(account, 6e5) == {"F1": pytest.approx(5e5)}
        assert pay(account, 1.2e6, t=T0 + 2 * HOUR) == {"F1": pytest.approx(1e6)}
        assert account.loan_money() == pytest.approx(5e7 - 1.5e6)
        assert account.balance - account.loan_money() == pytest.approx(1e7 - 3e5)

    def test_a_receipt_dilutes_the_loan_share_instead_of_refilling_the_lot(self):
        """3 million own money, a 5 million drawdown, a 2 million payment (5/8 loan), then a
        customer pays 2 million: the next payment is 3.75/8 loan money, the lot is not refilled."""
        account = funded(3e6, Lot("F1", 5e6, T0, ("D1",)))
        assert pay(account, 2e6) == {"F1": pytest.approx(1.25e6)}
        account.credit(2e6, 8e6)
        assert account.loan_money() == pytest.approx(3.75e6)
        assert pay(account, 1.6e6, t=T0 + 3 * HOUR) == {"F1": pytest.approx(1.6e6 * 3.75 / 8)}

    def test_two_facilities_pay_in_proportion_to_their_lots(self):
        """Two facilities drawn into one account with own money: a payment takes from each
        lot by its share of the balance, together the loan share of the balance."""
        account = funded(2e6, Lot("F1", 6e6, T0, ("D1",)), Lot("F2", 2e6, T0, ("D2",)))
        taken = pay(account, 1e6)
        assert taken == {"F1": pytest.approx(6e5), "F2": pytest.approx(2e5)}
        assert per_facility(account) == {"F1": pytest.approx(5.4e6), "F2": pytest.approx(1.8e6)}

    def test_a_balance_below_the_lots_shrinks_them_for_good(self):
        """Postings the feed never sent took the balance to 1 million under a 5 million lot:
        the lot shrinks to the balance, the payment is all loan money, and money coming in
        later is own money (what left cannot come back as the same money)."""
        account = funded(0.0, Lot("F1", 5e6, T0, ("D1",)))
        account.balance = 1e6  # as the next posting's balance_after will say
        assert pay(account, 4e5) == {"F1": pytest.approx(4e5)}
        assert account.loan_money() == pytest.approx(6e5)
        account.credit(4e6, 4.6e6)
        assert account.loan_money() == pytest.approx(6e5)

    def test_without_any_balance_a_payment_is_loan_money_first(self):
        """The feed sends no balance at all: the strictest reading, loan money first."""
        account = Account("C1")
        account.add_lot(Lot("F1", 5e6, T0, ("D1",)))
        before = account.before_debit(3e6, None)
        assert before is None
        (take,) = account.take(3e6, before, None, T0 + HOUR)
        assert take[1] == pytest.approx(3e6)
        assert account.loan_money() == pytest.approx(2e6)


class TestExceptions:
    def test_a_payment_tagged_with_a_facility_is_its_money_first(self):
        """Core banking tags a payment with F2: F2's lot pays first; what F2 cannot cover
        is pro rata over the rest of the balance."""
        account = funded(2e6, Lot("F1", 3e6, T0, ("D1",)), Lot("F2", 3e6, T0, ("D2",)))
        assert pay(account, 2e6, facility_id="F2") == {"F2": pytest.approx(2e6)}
        # F2 has 1 million left; 3 million tagged F2 takes it, then 2 million pro rata over
        # the remaining 5 million (F1 3 million of it).
        taken = pay(account, 3e6, t=T0 + 2 * HOUR, facility_id="F2")
        assert taken == {"F2": pytest.approx(1e6), "F1": pytest.approx(1.2e6)}

    def test_earmarked_entrusted_money_is_reached_only_when_own_money_runs_out(self):
        """An entrusted facility's 5 million sits in a busy account with 3 million own money:
        a 2 million payment is own money; 1.5 million more exceeds the own money left by half
        a million, and that half million is the facility's."""
        account = funded(3e6, Lot("F1", 5e6, T0, ("D1",), earmarked=True))
        assert pay(account, 2e6) == {}
        assert pay(account, 1.5e6, t=T0 + 2 * HOUR) == {"F1": pytest.approx(5e5)}
        assert account.loan_money() == pytest.approx(4.5e6)

    def test_earmarked_money_stays_out_of_the_pro_rata_pool(self):
        """An earmarked lot and a free lot of another facility: ordinary payments share the
        free lot with own money only, as if the earmarked money were not there."""
        account = funded(1e6, Lot("E1", 4e6, T0, ("D1",), earmarked=True),
                         Lot("F1", 1e6, T0, ("D2",)))
        assert pay(account, 1e6) == {"F1": pytest.approx(5e5)}

    def test_money_fresh_from_a_hop_leaves_first_then_pro_rata(self):
        """2 million moved in, of which 1.25 million loan money, to an account holding half a
        million: a payment within three days is the moved money (5/8 of it loan); after
        three days the account is back to pro rata."""
        account = Account("C1", 5e5)
        account.credit(2e6, 2.5e6)
        account.add_lot(Lot("F1", 1.25e6, T0, ("D1", "H1"), fresh_until=T0 + PASS_THROUGH_SECONDS,
                            fresh_share=0.625))
        assert pay(account, 1.6e6) == {"F1": pytest.approx(1e6)}
        late = T0 + PASS_THROUGH_SECONDS + HOUR
        assert pay(account, 4.5e5, t=late) == {"F1": pytest.approx(4.5e5 * 0.25e6 / 9e5)}

    def test_the_path_keeps_the_drawdown_and_the_latest_hops(self):
        """Money hopping round many own accounts: the path still starts at the drawdown and
        ends with the latest hops, never longer than MAX_PATH."""
        path: tuple[str, ...] = ("D1",)
        for hop in range(10):
            path = hop_path(path, f"H{hop}")
        assert len(path) == MAX_PATH
        assert path[0] == "D1" and path[-1] == "H9"
        assert list(path[1:]) == [f"H{i}" for i in range(10 - MAX_PATH + 1, 10)]


class TestLotsMove:
    def test_a_transfer_to_another_own_account_carries_its_loan_share(self):
        """A busy basic account gets a 5 million drawdown; 2 million moves to the general
        account: it carries the basic account's loan share, the lot's path adds the hop, and
        the loan money of the two accounts still adds up to what was drawn."""
        f = factory()
        txns = [*busy_month(f), drawdown(f)]
        before = f.balances[BASIC]
        hop = move(f, 2e6, hours=START + DAY)
        eng = engine(facility())
        eng.process_batch([*txns, *hop])
        state = eng.unit_state("c:C1")
        assert state is not None
        (lot,) = state.accounts[GENERAL].lots
        assert lot.facility_id == "F1"
        assert lot.path == (txns[-1].txn_id, hop[0].txn_id)
        assert lot.amount == pytest.approx(2e6 * 5e6 / before)
        assert lot.fresh_until == pytest.approx(hop[0].booked_at.timestamp()
                                                + PASS_THROUGH_SECONDS)
        total = state.accounts[BASIC].loan_money() + state.accounts[GENERAL].loan_money()
        assert total == pytest.approx(5e6)

    def test_the_moved_money_is_what_the_next_payment_spends(self):
        """After the move, the general account pays a broker: the payment carries the moved
        loan money, not the general account's pro-rata share of it."""
        f = factory(general=5e6)
        txns = [*busy_month(f), drawdown(f)]
        before = f.balances[BASIC]
        hop = move(f, 2e6, hours=START + DAY)
        eng = engine(facility())
        eng.process_batch([*txns, *hop])
        state = eng.unit_state("c:C1")
        assert state is not None
        moved = 2e6 * 5e6 / before
        broker = f.debit(2e6, hours=START + DAY + 2, account=GENERAL, **BROKER)
        eng.process_batch([broker])
        (use,) = state.traces["F1"].uses
        assert use.loan == pytest.approx(moved)
        assert state.accounts[GENERAL].loan_money() == pytest.approx(0.0, abs=1e-6)


class TestExpiry:
    def test_old_and_residual_lots_are_pruned(self):
        """Housekeeping drops a lot drawn more than the window ago and a lot whose remainder
        is below the residue floor; a recent, material lot stays."""
        now = T0 + WINDOW + 86_400.0
        account = funded(0.0,
                         Lot("OLD", 5e6, T0, ("D1",)),
                         Lot("CRUMB", FLOOR * 0.5, now - 86_400.0, ("D2",), origin=5e6),
                         Lot("SHARE", 4e4, now - 86_400.0, ("D3",), origin=1e7),
                         Lot("KEPT", 2e6, now - 86_400.0, ("D4",)))
        account.prune(now, WINDOW, FLOOR, FLOOR_SHARE)
        assert [lot.facility_id for lot in account.lots] == ["KEPT"]

    def test_a_lot_on_the_last_day_of_the_window_is_still_loan_money(self):
        """Money drawn exactly the window ago is still followed."""
        account = funded(0.0, Lot("F1", 5e6, T0, ("D1",)))
        account.prune(T0 + WINDOW, WINDOW, FLOOR, FLOOR_SHARE)
        assert account.loan_money() == pytest.approx(5e6)

    @pytest.mark.parametrize("other_postings", [0, 300])
    def test_loan_money_older_than_the_window_is_no_longer_traced(self, other_postings):
        """A drawdown sits untouched in the loan account for 90 days (window: 60) while the
        firm books other postings; then the account pays a broker. The loan money expired
        after 60 days, so the payment is not traced to the facility, however many postings
        the firm booked in between."""
        f = factory()
        txns = [drawdown(f, account=LOAN)]
        txns += [f.credit(1e3, hours=START + 61 * DAY + i * 0.01, account=GENERAL,
                          name="客户0号有限公司", counterparty_account="CUST0000", memo="货款")
                 for i in range(other_postings)]
        txns.append(f.debit(2e6, hours=START + 90 * DAY, account=LOAN, **BROKER))
        alerts = engine(facility(account=LOAN)).process_batch(txns)
        assert [a for a in alerts if a.facility_id == "F1"] == []


# ----------------------------------------------------------------------------- properties


def documented_takes(lots: list[Lot], before: float, amount: float,
                     tag: str | None) -> dict[str, float]:
    """Return the loan money per facility a payment takes under the module docstring's rule,
    for an account with no money fresh from a hop: the tagged facility first, then pro rata
    over own money and free lots, earmarked lots only for what own money cannot pay."""
    left_lots = [[lot.facility_id, lot.amount, lot.earmarked] for lot in lots]
    out: dict[str, float] = {}
    left, balance = amount, before
    if tag is not None:
        for lot in left_lots:
            if lot[0] == tag and left > 0:
                part = min(lot[1], left)
                lot[1] -= part
                left -= part
                balance -= part
                out[tag] = out.get(tag, 0.0) + part
    if left <= 0:
        return out
    earmarked = sum(lot[1] for lot in left_lots if lot[2])
    pool = balance - earmarked
    for facility_id, held, is_earmarked in left_lots:
        if is_earmarked:
            excess = left - max(pool, 0.0)
            part = held * min(1.0, excess / earmarked) if excess > 0 and earmarked > 0 else 0.0
        else:
            part = held * min(1.0, left / pool) if pool > 0 else held
        out[facility_id] = out.get(facility_id, 0.0) + part
    return {k: v for k, v in out.items() if v > 0}


STEP = st.one_of(
    st.tuples(st.just("receipt"), st.floats(1.0, 5e6)),
    st.tuples(st.just("draw"), st.floats(1e4, 5e6), st.sampled_from(("F1", "F2", "E1"))),
    st.tuples(st.just("hop_in"), st.floats(1e4, 5e6), st.floats(0.0, 1.0),
              st.sampled_from(("F1", "F2"))),
    st.tuples(st.just("pay"), st.floats(0.0, 1.0), st.sampled_from((None, "F1", "E1"))),
    st.tuples(st.just("wait"), st.floats(0.0, 5 * 86_400.0)),
)


class TestInvariants:
    @settings(max_examples=300, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(opening=st.floats(0.0, 1e7), steps=st.lists(STEP, max_size=40))
    def test_any_sequence_of_postings_keeps_the_books_straight(self, opening, steps):
        """Receipts, drawdowns (one entrusted), money moved in from another account and
        payments of any share of the balance, tagged or not: the loan money in the account
        never goes negative, never exceeds what each facility brought in, never exceeds the
        balance, loan money left plus loan money paid out equals what came in, and outside
        the pass-through days each payment takes what the documented rule says."""
        account = Account("C1", opening)
        t = T0
        brought: dict[str, float] = {}
        paid: dict[str, float] = {}
        for step in steps:
            kind = step[0]
            t += 60.0
            if kind == "receipt":
                account.credit(step[1], account.balance + step[1])
            elif kind == "draw":
                _, amount, facility_id = step
                account.credit(amount, account.balance + amount)
                account.add_lot(Lot(facility_id, amount, t, (f"D{t}",),
                                    earmarked=facility_id == "E1"))
                brought[facility_id] = brought.get(facility_id, 0.0) + amount
            elif kind == "hop_in":
                _, amount, share, facility_id = step
                loan = amount * share
                account.credit(amount, account.balance + amount)
                if loan > 0:
                    account.add_lot(Lot(facility_id, loan, t, (f"D{t}", f"H{t}"),
                                        fresh_until=t + PASS_THROUGH_SECONDS,
                                        fresh_share=share))
                    brought[facility_id] = brought.get(facility_id, 0.0) + loan
            elif kind == "pay":
                _, share, tag = step
                amount = account.balance * share
                if amount <= 0:
                    continue
                before = account.before_debit(amount, account.balance - amount)
                fresh = any(lot.fresh_until > t and lot.amount > 0 for lot in account.lots)
                expected = None if fresh else documented_takes(account.lots, before, amount, tag)
                takes = account.take(amount, before, tag, t)
                assert sum(part for _, part in takes) <= amount * (1 + 1e-9)
                got: dict[str, float] = {}
                for lot, part in takes:
                    assert part > 0
                    got[lot.facility_id] = got.get(lot.facility_id, 0.0) + part
                    paid[lot.facility_id] = paid.get(lot.facility_id, 0.0) + part
                if expected is not None:
                    tol = 1e-6 * (1.0 + amount)
                    for facility_id in set(expected) | set(got):
                        assert got.get(facility_id, 0.0) == pytest.approx(
                            expected.get(facility_id, 0.0), abs=tol)
            else:
                t += step[1]
            tol = 1e-6 * (1.0 + opening + sum(brought.values()))
            assert all(lot.amount >= -tol for lot in account.lots)
            assert account.loan_money() <= account.balance + tol
            held = per_facility(account)
            for facility_id, amount in brought.items():
                assert held.get(facility_id, 0.0) <= amount + tol
                # Nothing shrank (the balance never fell below the lots), so loan money is
                # conserved: what is left plus what was paid is what came in.
                assert held.get(facility_id, 0.0) + paid.get(facility_id, 0.0) == (
                    pytest.approx(amount, abs=tol))
            own = account.balance - account.loan_money()
            assert own >= -tol

    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(steps=st.lists(st.tuples(st.sampled_from(("in", "out", "move", "draw")),
                                    st.floats(0.01, 1.0)), min_size=1, max_size=30))
    def test_the_engine_keeps_loan_money_within_the_units_balances(self, steps):
        """Postings of a firm through the engine (receipts, supplier payments, moves between
        its basic and general accounts, drawdowns): in every account the traced loan money is
        never negative and never above the balance, and across the unit it never exceeds
        what was drawn."""
        f = factory(basic=1e6, general=1e5)
        eng = engine(facility("F1", amount=5e7), facility("F2", account=GENERAL, amount=5e7))
        drawn = 0.0
        hours = START
        for kind, x in steps:
            hours += 1.0
            source, target = (BASIC, GENERAL) if x < 0.5 else (GENERAL, BASIC)
            if kind == "in":
                batch = [f.credit(round(x * 2e6, 2), hours=hours, account=source,
                                  name="客户0号有限公司", counterparty_account="CUST0000")]
            elif kind == "draw":
                amount = round(x * 4e6, 2)
                drawn += amount
                batch = [drawdown(f, "F1" if source == BASIC else "F2", amount, hours=hours,
                                  account=source)]
            else:
                amount = round(f.balances[source] * x, 2)
                if amount <= 0:
                    continue
                batch = (move(f, amount, hours=hours, source=source, target=target)
                         if kind == "move" else
                         [f.debit(amount, hours=hours, account=source, name="供应商0号有限公司",
                                  counterparty_account="SUPP0000", memo="材料款")])
            eng.process_batch(batch)
            state = eng.unit_state("c:C1")
            assert state is not None
            tol = 1e-6 * (1.0 + drawn)
            for account in state.accounts.values():
                assert all(lot.amount >= -tol for lot in account.lots)
                assert account.loan_money() <= max(account.balance or 0.0, 0.0) + tol
            assert sum(a.loan_money() for a in state.accounts.values()) <= drawn + tol
