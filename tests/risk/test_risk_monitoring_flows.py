"""Flow shapes of loan money (round trips, fast in fast out), cash and balance collapse.

Each rule has a hard negative that must stay silent and a harder variant that must be caught:
returns through a second shell or to a group affiliate, T+3 counted in calendar days across a
weekend, splits on one calendar day, a small firm emptied over a weekend.
"""

from __future__ import annotations

from monitoring_support import (
    BASIC,
    DAY,
    GENERAL,
    LOAN,
    START,
    SUPPLIERS,
    busy_month,
    client,
    drawdown,
    engine,
    facility,
    factory,
    of,
)

CASH = {"name": "现金", "counterparty_account": "", "kind": "unknown", "channel": "cash"}
FRIDAY = START + 2 * DAY  # START is a Wednesday, 09:00 Beijing


class TestRoundTrip:
    def test_money_back_through_a_second_shell_is_caught(self):
        """Loan money to one new firm (往来款), back from another new firm in two parts."""
        f = factory()
        txns = [*busy_month(f), drawdown(f, account=LOAN)]
        out = f.debit(4e6, hours=START + 3, account=LOAN, name="甲商贸有限公司",
                      counterparty_account="SHELL-X", memo="往来款")
        back = [f.credit(1.8e6, hours=START + 10 * DAY, name="乙贸易有限公司",
                         counterparty_account="SHELL-Y", memo="往来款"),
                f.credit(1.6e6, hours=START + 15 * DAY, name="乙贸易有限公司",
                         counterparty_account="SHELL-Y", memo="退款")]
        (alert,) = of("round_trip", engine(facility(account=LOAN)).process_batch(
            [*txns, out, *back]))
        assert alert.facts["how"] == "shell"
        assert {out.txn_id, back[1].txn_id} <= set(alert.evidence_txn_ids)

    def test_money_back_to_a_group_affiliate_at_this_bank_is_caught(self):
        """C1 pays loan money to a shell; the shell pays C2, C1's group affiliate here. The
        group is one tracing unit, so the return counts against C1's facility."""
        f1, f2 = factory("C1"), factory("C2")
        f2.account = "6228000000000099"
        group = [client("C1", group="G1"),
                 client("C2", group="G1", name="苏州恒达贸易有限公司",
                        accounts=("6228000000000099",))]
        txns = [drawdown(f1, account=LOAN),
                f1.debit(4e6, hours=START + 3, account=LOAN, name="丙商贸有限公司",
                         counterparty_account="SHELL-Z", memo="预付款"),
                f2.credit(3.5e6, hours=START + 8 * DAY, name="丙商贸有限公司",
                          counterparty_account="SHELL-Z", memo="退款")]
        (alert,) = of("round_trip", engine(facility(account=LOAN), clients=group)
                      .process_batch(txns))
        assert (alert.client_id, alert.facility_id) == ("C1", "F1")
        assert txns[2].txn_id in alert.evidence_txn_ids

    def test_a_strangers_payment_to_a_group_firm_is_not_a_return(self):
        """C1 pays loan money to a new firm; weeks later a different new firm pays C2, C1's
        group affiliate, a similar sum as 往来款. Two strangers and another firm of the group
        are too weak a chain: only the same payee, a related party or the borrower itself
        receiving the stranger's money makes a return."""
        f1, f2 = factory("C1"), factory("C2")
        f2.account = "6228000000000099"
        group = [client("C1", group="G1"),
                 client("C2", group="G1", name="苏州恒达贸易有限公司",
                        accounts=("6228000000000099",))]
        txns = [*busy_month(f1), drawdown(f1, account=LOAN),
                f1.debit(4e6, hours=START + 3, account=LOAN, name="丙商贸有限公司",
                         counterparty_account="SHELL-Z", memo="往来款"),
                f2.credit(3.5e6, hours=START + 8 * DAY, name="丁实业有限公司",
                          counterparty_account="NEW-CUSTOMER", memo="往来款")]
        assert of("round_trip", engine(facility(account=LOAN), clients=group)
                  .process_batch(txns)) == []

    def test_trade_that_happens_to_match_is_silent(self):
        """Loan money buys materials from a new supplier; a group firm then pays for goods,
        and a supplier known before the loan refunds part of an order."""
        f = factory()
        txns = [*busy_month(f), drawdown(f)]
        txns.append(f.debit(2e6, hours=START + 2, name="新材料有限公司",
                            counterparty_account="MAT-1", memo="材料款"))
        txns.append(f.credit(1.9e6, hours=START + 6 * DAY, name="苏州恒达关联贸易有限公司",
                             counterparty_account="AFF-1", kind="affiliate", memo="货款"))
        name, account = SUPPLIERS[0]
        txns.append(f.debit(1e6, hours=START + 3, name=name, counterparty_account=account))
        txns.append(f.credit(7e5, hours=START + 4 * DAY, name=name, counterparty_account=account,
                             memo="退款"))
        assert of("round_trip", engine(facility()).process_batch(txns)) == []

    def test_the_owner_lending_after_loan_money_repaid_a_guarantor_is_not_a_return(self):
        """Loan money repays a guarantor (the disguised-repayment rule's finding); two days
        later the shareholder lends the firm a similar sum (股东借款). A guarantor does not pass
        money on to the owner: that is no round trip, while the same loan from the owner after
        a payment to a new trading firm is one."""
        def run(payee: str, kind: str) -> list:
            f = factory()
            txns = [*busy_month(f), drawdown(f, amount=1.5e6, account=LOAN),
                    f.debit(1.2e6, hours=START + 3, account=LOAN, name=payee,
                            counterparty_account="PAYEE-1", kind=kind, memo="往来款"),
                    f.credit(1.0e6, hours=START + 2 * DAY, name="王建国",
                             counterparty_account="6217000000000009", kind="individual",
                             memo="股东借款")]
            return of("round_trip", engine(facility(account=LOAN, amount=1.5e6))
                      .process_batch(txns))

        assert run("济南协力融资担保有限公司", "guarantor") == []
        (alert,) = run("甲商贸有限公司", "corporate")
        assert alert.facts["how"] == "related"


class TestFastInFastOut:
    def test_t_plus_3_counts_calendar_days_across_a_weekend(self):
        """Drawn Friday morning, gone by Monday evening (80 hours, T+3 calendar days) to three
        payees that explain nothing, leaving the account near zero."""
        f = factory()
        txns = [drawdown(f, amount=3e6, hours=FRIDAY, account=LOAN)]
        for hours, amount, payee in ((FRIDAY + 5, 1e6, "A"), (FRIDAY + DAY + 2, 9e5, "B"),
                                     (FRIDAY + 3 * DAY + 8, 1.08e6, "C")):
            txns.append(f.debit(amount, hours=hours, account=LOAN, name=f"{payee}商贸有限公司",
                                counterparty_account=f"PASS-{payee}", memo="转账"))
        (alert,) = of("fast_in_fast_out", engine(facility(account=LOAN, amount=3e6))
                      .process_batch(txns))
        assert alert.facts["calendar_days"] == 3.0
        assert txns[-1].booked_at.timestamp() - txns[0].booked_at.timestamp() > 72 * 3600

    def test_equipment_and_a_bulk_purchase_right_after_a_drawdown_are_silent(self):
        """An equipment loan paid to an equipment maker the same day, and a working-capital
        loan spent on one new supplier's materials the next day."""
        f = factory()
        txns = [drawdown(f, "F1", 3e6, account=LOAN),
                f.debit(2.9e6, hours=START + 4, account=LOAN, name="常州精工机械设备有限公司",
                        counterparty_account="EQ-1", industry="C3421", memo="设备款"),
                drawdown(f, "F2", 2e6, account=GENERAL),
                f.debit(1.9e6, hours=START + DAY, account=GENERAL, name="新钢材贸易有限公司",
                        counterparty_account="STEEL-1", industry="F5174", memo="材料款")]
        loans = (facility("F1", account=LOAN, amount=3e6, purpose="equipment",
                          kind="fixed_asset"),
                 facility("F2", account=GENERAL, amount=2e6))
        assert of("fast_in_fast_out", engine(*loans).process_batch(txns)) == []


class TestCash:
    def test_loan_money_in_cash_and_splits_under_the_line_are_caught(self):
        """Loan money taken out in cash; three cash withdrawals just under 5万 on one day."""
        f = factory()
        txns = [*busy_month(f), drawdown(f, amount=1e6, account=LOAN),
                f.debit(2e5, hours=START + 2, account=LOAN, **CASH)]
        for hours in (START + DAY, START + DAY + 3, START + DAY + 12):
            txns.append(f.debit(49_200, hours=hours, **CASH))
        kinds = {a.facts["kind"] for a in of("cash_structuring", engine(
            facility(account=LOAN, amount=1e6)).process_batch(txns))}
        assert kinds == {"loan_cash", "cash_split"}

    def test_cash_at_the_line_that_is_largely_loan_money_in_a_busy_account_is_caught(self):
        """2M drawn into a basic account holding 3M; the next day 12万 goes out in cash. Pro
        rata that is 4.8万 of loan money, under the 5万 line on its own, but two fifths of a
        withdrawal above the line: yellow. The same cash the day before the loan is silent."""
        f = factory()
        txns = busy_month(f)
        before = f.debit(1.2e5, hours=START - 12, **CASH)
        txns += [before, drawdown(f, amount=2e6), f.debit(1.2e5, hours=START + DAY, **CASH)]
        (alert,) = of("cash_structuring", engine(facility(amount=2e6)).process_batch(txns))
        assert alert.facts["kind"] == "loan_cash" and alert.level == "yellow"
        assert txns[-1].txn_id in alert.evidence_txn_ids
        assert before.txn_id not in alert.evidence_txn_ids

    def test_petty_cash_is_silent(self):
        """Weekly petty cash of 3万 and one withdrawal just under 5万."""
        f = factory()
        txns = busy_month(f)
        txns += [f.debit(3e4, hours=day * DAY + 6, **CASH) for day in range(0, 28, 7)]
        txns.append(f.debit(49_500, hours=20 * DAY + 7, **CASH))
        assert of("cash_structuring", engine().process_batch(txns)) == []


class TestBalanceCollapse:
    def test_a_small_firm_emptied_over_a_weekend_is_caught(self):
        """Deposits of about 30万 (no absolute floor), emptied to new payees Friday to Sunday."""
        f = factory(basic=3e5, general=0.0)
        txns = busy_month(f, receipt=2e4, payment=2e4)
        for day, share in ((0, 0.5), (1, 0.6), (2, 0.7)):
            balance = f.balances[BASIC]
            txns.append(f.debit(round(balance * share, 2), hours=FRIDAY + day * DAY,
                                name=f"新{day}号有限公司", counterparty_account=f"NEW-{day}"))
        (alert,) = of("balance_collapse", engine().process_batch(txns))
        assert {txns[-3].txn_id, txns[-2].txn_id} <= set(alert.evidence_txn_ids)

    def test_repaying_this_bank_or_buying_wealth_is_not_a_collapse(self):
        """Scheduled principal to this bank and a wealth product take most of the deposits."""
        f = factory(basic=3e6, general=0.0)
        txns = busy_month(f, receipt=1e5, payment=1e5)
        txns.append(f.debit(1.5e6, hours=FRIDAY, name="本行贷款账户",
                            counterparty_account="LOAN-F1", kind="loan_account",
                            memo="归还贷款本金"))
        txns.append(f.debit(1.2e6, hours=FRIDAY + 2, name="本行理财产品",
                            counterparty_account="WEALTH-1", kind="wealth", memo="购买理财"))
        assert of("balance_collapse", engine(facility()).process_batch(txns)) == []
