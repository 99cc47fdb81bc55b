"""Each monitoring rule on hand-built transactions: what fires it and what must not."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from crm_risk.monitoring import (
    Alert,
    ClientContext,
    FacilityContext,
    MonitoringEngine,
    Transaction,
    load_ruleset,
)
from crm_risk.monitoring.builders import TxnFactory

CLIENT = "C1"
OP, LOAN, GEN = "ACC-OP", "ACC-LN", "ACC-GEN"
RELATED_FIRM = "宁波众诚机械制造有限公司"
LEGAL_REP = "刘杰浩"
DAY = 24.0


def client_context() -> ClientContext:
    return ClientContext(
        client_id=CLIENT,
        related_party_names=frozenset({RELATED_FIRM}),
        related_party_accounts=frozenset({"REL-1", "EXT-OWN"}),
        own_accounts=frozenset({OP, LOAN, GEN}),
        legal_rep_name=LEGAL_REP,
        controller_name="王建国",
    )


def facility(
    facility_id: str = "F1", *, account: str = LOAN, entrusted: Iterable[str] = ()
) -> FacilityContext:
    return FacilityContext(
        facility_id=facility_id, client_id=CLIENT, facility_type="working_capital",
        amount=5e6, purpose_category="raw_materials", drawdown_account=account,
        entrusted_counterparties=frozenset(entrusted),
    )


def engine(
    *facilities: FacilityContext, overrides: Mapping[str, Mapping[str, object]] | None = None
) -> MonitoringEngine:
    chosen = facilities or (facility(),)
    return MonitoringEngine(
        load_ruleset(overrides=overrides),
        clients={CLIENT: client_context()},
        facilities={f.facility_id: f for f in chosen},
    )


def factory(operating_balance: float = 3e6) -> TxnFactory:
    return TxnFactory(CLIENT, account=OP, balances={OP: operating_balance, LOAN: 0.0})


def alerts_of(rule_id: str, txns: Iterable[Transaction], eng: MonitoringEngine | None = None,
              ) -> list[Alert]:
    alerts = (eng or engine()).process_batch(txns)
    return [a for a in alerts if a.rule_id == rule_id]


class TestRoundTrip:
    def test_money_back_from_the_payee_alerts(self):
        """Half or more of the loan money paid to X coming back from X raises round_trip."""
        f = factory()
        out = f.debit(3e6, hours=2, account=LOAN, name="金华大洋商贸有限公司",
                      counterparty_account="X-1")
        back = f.credit(1.6e6, hours=7 * DAY, name="金华大洋商贸有限公司",
                        counterparty_account="X-1")
        alerts = alerts_of("round_trip", [f.drawdown("F1", 5e6, hours=0, account=LOAN), out,
                                          back])
        assert len(alerts) == 1
        assert alerts[0].facility_id == "F1"
        assert {out.txn_id, back.txn_id} <= set(alerts[0].evidence_txn_ids)
        assert alerts[0].facts["path"] == "direct"

    def test_small_supplier_refund_is_not_a_round_trip(self):
        """A 5% refund from a supplier paid with loan money stays quiet."""
        f = factory()
        txns = [
            f.drawdown("F1", 5e6, hours=0, account=LOAN),
            f.debit(3e6, hours=2, account=LOAN, counterparty_account="SUP-1"),
            f.credit(1.5e5, hours=5 * DAY, counterparty_account="SUP-1"),
        ]
        assert alerts_of("round_trip", txns) == []

    def test_return_via_related_party_alerts_against_the_drawn_amount(self):
        """A related party sending back half the drawdown raises round_trip on that path."""
        f = factory()
        txns = [
            f.drawdown("F1", 5e6, hours=0, account=LOAN),
            f.debit(4e6, hours=3, account=LOAN, counterparty_account="SHELL-9"),
            f.credit(1.3e6, hours=6 * DAY, name=RELATED_FIRM, counterparty_account="R-77"),
            f.credit(1.3e6, hours=9 * DAY, name=RELATED_FIRM, counterparty_account="R-77"),
        ]
        alerts = alerts_of("round_trip", txns)
        assert len(alerts) == 1
        assert alerts[0].facts["path"] == "related"
        assert alerts[0].raised_at == txns[-1].booked_at

    def test_related_receipts_below_half_the_drawdown_stay_quiet(self):
        """Group trade receipts worth 40% of the loan are not a round trip."""
        f = factory()
        txns = [
            f.drawdown("F1", 5e6, hours=0, account=LOAN),
            f.debit(4e6, hours=3, account=LOAN, counterparty_account="SHELL-9"),
            f.credit(2e6, hours=6 * DAY, name=RELATED_FIRM, counterparty_account="R-77"),
        ]
        assert alerts_of("round_trip", txns) == []

    def test_return_after_the_window_is_ignored(self):
        """Money coming back after 30 days is outside the round-trip window."""
        f = factory()
        txns = [
            f.drawdown("F1", 5e6, hours=0, account=LOAN),
            f.debit(3e6, hours=2, account=LOAN, counterparty_account="X-1"),
            f.credit(3e6, hours=31 * DAY, counterparty_account="X-1"),
        ]
        assert alerts_of("round_trip", txns) == []

    def test_transfers_between_own_accounts_and_cash_are_not_returns(self):
        """Internal moves and cash deposits never count as money coming back."""
        f = factory()
        txns = [
            f.drawdown("F1", 5e6, hours=0, account=LOAN),
            f.debit(3e6, hours=1, account=LOAN, counterparty_account="X-1"),
            f.debit(2e6, hours=2, account=LOAN, counterparty_account=OP, name="本公司"),
            f.credit(2e6, hours=2.1, account=OP, counterparty_account=LOAN, name="本公司"),
            f.cash_withdrawal(4e4, hours=3, account=LOAN),
            f.credit(3e6, hours=30, channel="cash", is_cash=True, name="现金",
                     counterparty_account="", kind="unknown"),
        ]
        assert alerts_of("round_trip", txns) == []


class TestFastInFastOut:
    def test_drawdown_swept_out_within_days_alerts(self):
        """90%+ of a drawdown leaving within 3 days with the account near zero raises it."""
        f = factory()
        draw = f.drawdown("F1", 5e6, hours=0, account=LOAN)
        first = f.debit(2e6, hours=5, account=LOAN, counterparty_account="P-1")
        last = f.debit(2.95e6, hours=30, account=LOAN, counterparty_account="P-2")
        alerts = alerts_of("fast_in_fast_out", [draw, first, last])
        assert len(alerts) == 1
        assert alerts[0].level == "orange"
        assert alerts[0].evidence_txn_ids == [draw.txn_id, first.txn_id, last.txn_id]

    def test_healthy_operating_balance_is_not_a_pass_through(self):
        """The same outflows from an operating account with a large balance stay quiet."""
        f = factory(operating_balance=8e6)
        txns = [
            f.drawdown("F1", 5e6, hours=0, account=OP),
            f.debit(2e6, hours=5, counterparty_account="P-1"),
            f.debit(2.95e6, hours=30, counterparty_account="P-2"),
        ]
        assert alerts_of("fast_in_fast_out", txns, engine(facility(account=OP))) == []

    def test_spending_over_a_week_is_not_fast(self):
        """A drawdown spent over six days is ordinary spending."""
        f = factory()
        txns = [
            f.drawdown("F1", 5e6, hours=0, account=LOAN),
            f.debit(2e6, hours=5, account=LOAN, counterparty_account="P-1"),
            f.debit(3e6, hours=6 * DAY, account=LOAN, counterparty_account="P-2"),
        ]
        assert alerts_of("fast_in_fast_out", txns) == []

    def test_payments_to_entrusted_counterparties_are_excluded(self):
        """Entrusted payment straight to approved payees is how it should work."""
        f = factory()
        txns = [
            f.drawdown("F1", 5e6, hours=0, account=LOAN),
            f.debit(2.5e6, hours=1, account=LOAN, counterparty_account="E-1", facility_id="F1"),
            f.debit(2.5e6, hours=2, account=LOAN, counterparty_account="E-2", facility_id="F1"),
        ]
        eng = engine(facility(entrusted={"E-1", "E-2"}))
        assert eng.process_batch(txns) == []


class TestSecuritiesInvestment:
    def test_tagged_loan_money_to_a_broker_is_red(self):
        """A payment tagged with the facility to a broker raises a red alert."""
        f = factory()
        pay = f.debit(1e6, hours=1, name="华泰证券客户资金专户", kind="broker",
                      counterparty_account="BRK-1", facility_id="F1")
        alerts = alerts_of("securities_investment", [pay])
        assert [a.level for a in alerts] == ["red"]
        assert alerts[0].facts["matched_by"] == "payee type broker"

    def test_inferred_loan_money_to_a_trust_by_name(self):
        """Untagged payment from the drawdown account to a 信托 name is loan money too."""
        f = factory()
        txns = [
            f.drawdown("F1", 5e6, hours=0, account=OP),
            f.debit(2e6, hours=3, name="中原国际信托有限公司", kind="unknown",
                    counterparty_account="TR-1"),
        ]
        alerts = alerts_of("securities_investment", txns, engine(facility(account=OP)))
        assert len(alerts) == 1
        assert alerts[0].facts["loan_money"] == 2e6

    def test_own_surplus_in_wealth_products_is_not_misuse(self):
        """Buying a wealth product from an account with no loan money stays quiet."""
        f = factory()
        txns = [
            f.drawdown("F1", 5e6, hours=0, account=LOAN),
            f.debit(2e6, hours=3, account=GEN, name="本行理财产品88号", kind="wealth",
                    counterparty_account="WM-1"),
        ]
        assert alerts_of("securities_investment", txns) == []

    def test_loan_money_older_than_the_attribution_window_is_own_money(self):
        """31 days after the drawdown, payments from the account are no longer loan money."""
        f = factory()
        txns = [
            f.drawdown("F1", 5e6, hours=0, account=OP),
            f.debit(1e6, hours=31 * DAY, name="某某期货有限公司", kind="futures",
                    counterparty_account="FUT-1"),
        ]
        assert alerts_of("securities_investment", txns, engine(facility(account=OP))) == []


class TestRealEstate:
    def test_developer_by_industry_code_name_or_numeric_code(self):
        """K7010, a 置业 name and a bare 7010 code each count as real estate."""
        for name, industry in (("苏州恒达城市发展有限公司", "K7010"),
                               ("南通锦程置业有限公司", ""),
                               ("无锡天成城市建设发展有限公司", "7010")):
            f = factory()
            pay = f.debit(1e6, hours=1, name=name, industry=industry,
                          counterparty_account="RE-1", facility_id="F1")
            assert len(alerts_of("real_estate", [pay])) == 1, name

    def test_property_management_is_exempt_even_when_named_dichan(self):
        """Rent to a K7020 property manager is an operating cost."""
        f = factory()
        pay = f.debit(2e5, hours=1, name="苏州地产物业服务有限公司", industry="K7020",
                      counterparty_account="PM-1", facility_id="F1")
        assert alerts_of("real_estate", [pay]) == []

    def test_ordinary_supplier_is_not_real_estate(self):
        """A manufacturer paid with loan money is not real estate."""
        f = factory()
        pay = f.debit(2e6, hours=1, industry="C3490", facility_id="F1")
        assert alerts_of("real_estate", [pay]) == []


class TestRelatedParty:
    def test_loan_money_to_a_related_account_or_key_person(self):
        """Loan money to a related account or to the legal rep raises related_party."""
        cases = [
            {"name": "某公司", "counterparty_account": "REL-1"},
            {"name": LEGAL_REP, "counterparty_account": "6217-1", "kind": "individual"},
        ]
        for fields in cases:
            f = factory()
            pay = f.debit(5e5, hours=1, facility_id="F1", **fields)
            alerts = alerts_of("related_party", [pay])
            assert len(alerts) == 1, fields
            assert alerts[0].facility_id == "F1"

    def test_any_loan_money_to_a_person_alerts(self):
        """Even a small payment of loan money to an unrelated person is 公转私 of loan money."""
        f = factory()
        pay = f.debit(8e3, hours=1, name="张伟", kind="individual",
                      counterparty_account="6217-9", facility_id="F1")
        assert len(alerts_of("related_party", [pay])) == 1

    def test_large_company_to_personal_transfer_of_own_money(self):
        """60万 of own money to a person raises related_party with the personal scope."""
        f = factory()
        pay = f.debit(6e5, hours=1, name="张伟", kind="individual", counterparty_account="6217-9")
        alerts = alerts_of("related_party", [pay])
        assert len(alerts) == 1
        assert alerts[0].facility_id is None
        assert "|personal|" in alerts[0].window_key

    def test_own_money_small_personal_payments_and_group_trade_are_quiet(self):
        """Salaries-sized personal payments and related trade with own money stay quiet."""
        f = factory()
        txns = [
            f.debit(3e5, hours=1, name="张伟", kind="individual", counterparty_account="6217-9"),
            f.debit(2e6, hours=2, name=RELATED_FIRM, counterparty_account="REL-1"),
        ]
        assert alerts_of("related_party", txns) == []

    def test_loan_money_moved_to_an_own_account_is_not_a_related_payment(self):
        """An internal move is not a payment to a related party."""
        f = factory()
        txns = [f.drawdown("F1", 5e6, hours=0, account=LOAN),
                f.debit(2e6, hours=1, account=LOAN, counterparty_account=OP, name="本公司")]
        assert alerts_of("related_party", txns) == []


class TestEntrustedMismatch:
    def test_payment_outside_the_approved_payees_alerts(self):
        """An entrusted facility paying someone not approved raises a mismatch."""
        f = factory()
        txns = [
            f.drawdown("F1", 5e6, hours=0, account=LOAN),
            f.debit(2e6, hours=1, account=LOAN, counterparty_account="E-1", facility_id="F1"),
            f.debit(1e6, hours=30, account=LOAN, counterparty_account="OTHER-1"),
        ]
        alerts = alerts_of("entrusted_mismatch", txns, engine(facility(entrusted={"E-1"})))
        assert [a.evidence_txn_ids for a in alerts] == [[txns[2].txn_id]]

    def test_moving_entrusted_loan_money_to_an_own_account_alerts(self):
        """Pulling entrusted loan money into the operating account leaves the entrusted path."""
        f = factory()
        txns = [f.drawdown("F1", 5e6, hours=0, account=LOAN),
                f.debit(1e6, hours=2, account=LOAN, counterparty_account=OP, name="本公司")]
        alerts = alerts_of("entrusted_mismatch", txns, engine(facility(entrusted={"E-1"})))
        assert len(alerts) == 1
        assert "own account" in alerts[0].message

    def test_self_payment_facility_has_no_entrusted_payees_to_mismatch(self):
        """A facility without entrusted counterparties never raises a mismatch."""
        f = factory()
        txns = [f.drawdown("F1", 5e6, hours=0, account=LOAN),
                f.debit(1e6, hours=2, account=LOAN, counterparty_account="ANY-1")]
        assert alerts_of("entrusted_mismatch", txns) == []

    def test_single_payment_floor_from_configuration(self):
        """With the 1000万 floor configured, only larger mismatched payments alert."""
        over = {"entrusted_mismatch": {"min_single_payment": 10_000_000}}
        eng = engine(facility(entrusted={"E-1"}), overrides=over)
        f = TxnFactory(CLIENT, balances={LOAN: 0.0})
        txns = [f.drawdown("F1", 3e7, hours=0, account=LOAN),
                f.debit(3e6, hours=1, account=LOAN, counterparty_account="X-1"),
                f.debit(1.2e7, hours=2, account=LOAN, counterparty_account="X-2")]
        alerts = alerts_of("entrusted_mismatch", txns, eng)
        assert [a.evidence_txn_ids for a in alerts] == [[txns[2].txn_id]]


class TestDisguisedRepayment:
    def test_microlender_guarantor_and_other_bank_match(self):
        """Loan money to a microlender, a 担保 firm or another bank is a disguised repayment."""
        cases = [("某某小额贷款有限公司", "microlender"), ("某某融资担保有限公司", "corporate"),
                 ("南昌农村商业银行股份有限公司", "corporate")]
        for name, kind in cases:
            f = factory()
            txns = [f.drawdown("F1", 5e6, hours=0, account=LOAN),
                    f.debit(1e6, hours=DAY, account=LOAN, name=name, kind=kind,
                            counterparty_account="L-1")]
            assert len(alerts_of("disguised_repayment", txns)) == 1, name

    def test_interest_small_amounts_and_wealth_products_are_exempt(self):
        """Interest to a bank, sub-10万 payments and bank wealth products stay quiet."""
        f = factory()
        txns = [
            f.drawdown("F1", 5e6, hours=0, account=LOAN),
            f.debit(2e5, hours=1, account=LOAN, name="本行贷款利息收入户", kind="bank",
                    counterparty_account="INT-1"),
            f.debit(5e4, hours=2, account=LOAN, name="某某银行", kind="bank",
                    counterparty_account="B-1"),
            f.debit(1e6, hours=3, account=LOAN, name="招商银行理财专户", kind="wealth",
                    counterparty_account="WM-1"),
        ]
        assert alerts_of("disguised_repayment", txns) == []

    def test_tagged_repayment_long_after_the_drawdown_is_outside_the_window(self):
        """A tagged payment 40 days after the last drawdown is not within 30 days of it."""
        f = factory()
        txns = [f.drawdown("F1", 5e6, hours=0, account=LOAN),
                f.debit(1e6, hours=40 * DAY, account=LOAN, name="某某小额贷款有限公司",
                        kind="microlender", counterparty_account="L-1", facility_id="F1")]
        assert alerts_of("disguised_repayment", txns) == []


class TestCashStructuring:
    def test_large_cash_withdrawal_is_yellow(self):
        """A 5万 cash withdrawal raises a yellow alert."""
        f = factory()
        alerts = alerts_of("cash_structuring", [f.cash_withdrawal(5e4, hours=1)])
        assert [(a.level, a.facts["kind"]) for a in alerts] == [("yellow", "cash_withdrawal")]

    def test_cash_just_under_the_line_alone_is_quiet(self):
        """One or two withdrawals just under 5万 in a day are not structuring."""
        f = factory()
        txns = [f.cash_withdrawal(49_900, hours=1), f.cash_withdrawal(48_000, hours=5)]
        assert alerts_of("cash_structuring", txns) == []

    def test_three_cash_withdrawals_just_under_the_line_in_a_day(self):
        """Three withdrawals within 10% under 5万 inside 24 h are structuring (orange)."""
        f = factory()
        txns = [f.cash_withdrawal(48_000, hours=h) for h in (1, 4, 9)]
        alerts = alerts_of("cash_structuring", txns)
        assert [a.level for a in alerts] == ["orange"]
        assert alerts[0].evidence_txn_ids == [t.txn_id for t in txns]

    def test_split_cash_spread_over_days_is_quiet(self):
        """The same three withdrawals two days apart are outside the 24 h window."""
        f = factory()
        txns = [f.cash_withdrawal(48_000, hours=h) for h in (1, 49, 97)]
        assert alerts_of("cash_structuring", txns) == []

    def test_transfers_split_just_under_two_million(self):
        """Three transfers just under 200万 within a day are structuring."""
        f = factory(operating_balance=1e7)
        txns = [f.debit(a, hours=h, counterparty_account=f"P-{h}")
                for a, h in ((1_950_000, 1), (1_880_000, 3), (1_990_000, 6))]
        alerts = alerts_of("cash_structuring", txns)
        assert [a.facts["kind"] for a in alerts] == ["transfer_split"]

    def test_cash_deposits_count_only_when_configured(self):
        """Split cash deposits are ignored by default and caught when deposits are included."""
        def deposits() -> list[Transaction]:
            f = factory()
            return [f.credit(48_000, hours=h, channel="cash", name="现金",
                             counterparty_account="", kind="unknown") for h in (1, 2, 3)]
        assert alerts_of("cash_structuring", deposits()) == []
        eng = engine(overrides={"cash_structuring": {"include_cash_deposits": True}})
        assert len(alerts_of("cash_structuring", deposits(), eng)) == 1


def steady_days(f: TxnFactory, days: int, *, account: str = OP) -> list[Transaction]:
    """Return ``days`` days of small receipts and payments around a steady balance."""
    txns = []
    for day in range(days):
        txns.append(f.credit(2e5, hours=day * DAY + 1, account=account))
        txns.append(f.debit(1.9e5, hours=day * DAY + 5, account=account))
    return txns


class TestBalanceCollapse:
    def test_balance_emptied_in_a_day_after_weeks_of_steadiness(self):
        """Two payments taking a 5M account to 2万 after 12 steady days raise a collapse."""
        f = factory(operating_balance=5e6)
        txns = steady_days(f, 12)
        first = f.debit(3e6, hours=12 * DAY + 2, counterparty_account="Z-1")
        second = f.debit(2.05e6, hours=12 * DAY + 4, counterparty_account="Z-2")
        alerts = alerts_of("balance_collapse", [*txns, first, second])
        assert len(alerts) == 1
        assert alerts[0].evidence_txn_ids[:2] == [second.txn_id, first.txn_id]
        assert alerts[0].facts["average"] > 4e6

    def test_too_little_history_is_not_judged(self):
        """An account seen for five days has no usual level to collapse from."""
        f = factory(operating_balance=5e6)
        txns = [*steady_days(f, 5), f.debit(4.9e6, hours=5 * DAY + 2, counterparty_account="Z")]
        assert alerts_of("balance_collapse", txns) == []

    def test_small_accounts_below_the_floor_are_not_judged(self):
        """An account averaging below 100万 is below the floor."""
        f = factory(operating_balance=6e5)
        txns = [*steady_days(f, 12), f.debit(5.9e5, hours=12 * DAY + 2, counterparty_account="Z")]
        assert alerts_of("balance_collapse", txns) == []

    def test_gradual_decline_is_not_sudden(self):
        """Spending down 10% a day for two weeks never drops 80% within three days."""
        f = factory(operating_balance=5e6)
        txns = steady_days(f, 12)
        for day in range(12, 26):
            txns.append(f.debit(f.balances[OP] * 0.1, hours=day * DAY + 3,
                                counterparty_account="Z"))
        assert alerts_of("balance_collapse", txns) == []

    def test_drained_loan_account_is_not_a_collapse(self):
        """Loan money leaving its account is the flow rules' business, not a collapse."""
        def drained() -> list[Transaction]:
            f = factory()
            return [f.drawdown("F1", 5e6, hours=0, account=LOAN),
                    f.debit(3e6, hours=12 * DAY, account=LOAN, counterparty_account="S-1"),
                    f.debit(1.98e6, hours=12 * DAY + 1, account=LOAN,
                            counterparty_account="S-2")]
        assert alerts_of("balance_collapse", drained()) == []
        # The same bookings judged as own money (loan attribution over after a day) collapse.
        own_money = engine(overrides={"tracking": {"attribution_days": 1.0}})
        assert len(alerts_of("balance_collapse", drained(), own_money)) == 1
