"""Loan money into prohibited uses, to related parties and past entrusted payees.

Each rule has a hard negative (ordinary life that looks like the pattern and must stay silent)
and a harder variant that must be caught (busy accounts, hops through own accounts, payees
known only by their kind, industry or memo).
"""

from __future__ import annotations

from monitoring_support import (
    CONTROLLER,
    DAY,
    GENERAL,
    LEGAL_REP,
    LOAN,
    START,
    busy_month,
    drawdown,
    engine,
    facility,
    factory,
    move,
    of,
)

from crm_risk.monitoring.engine import EntrustedPayee

WEALTH = {"name": "本行稳健理财产品", "counterparty_account": "WEALTH-1", "kind": "wealth",
          "memo": "购买理财"}


class TestSecurities:
    def test_loan_money_moved_to_another_own_account_and_on_to_a_broker_is_caught(self):
        """Busy basic account, a hop to the general account, then a broker: the hop's loan
        share follows the money, and the warning names the facility, the path and the share."""
        f = factory()
        txns = [*busy_month(f), drawdown(f)]
        hop = move(f, 2e6, hours=START + DAY)
        pay = f.debit(1.9e6, hours=START + DAY + 1, account=GENERAL, name="华泰证券客户资金专户",
                      counterparty_account="BROKER-1", kind="broker", memo="银证转账")
        (alert,) = of("securities_investment", engine(facility()).process_batch(
            [*txns, *hop, pay]))
        assert alert.facility_id == "F1" and alert.level == "red"
        assert {txns[-1].txn_id, hop[0].txn_id, pay.txn_id} <= set(alert.evidence_txn_ids)
        assert alert.facts["path"].count("->") == 2
        assert 0.5 < float(alert.facts["loan_share"]) < 0.8

    def test_a_big_customer_payment_parked_in_wealth_after_a_drawdown_is_silent(self):
        """A drawdown, then a customer pays 2 million and the firm buys a wealth product with
        it the next day from the same account: its own money, not the loan's."""
        f = factory()
        txns = [*busy_month(f), drawdown(f)]
        txns.append(f.credit(2e6, hours=START + 3, name="大客户有限公司",
                             counterparty_account="BIG-1", memo="货款"))
        txns.append(f.debit(1.5e6, hours=START + DAY, **WEALTH))
        assert of("securities_investment", engine(facility()).process_batch(txns)) == []

    def test_a_habitual_wealth_purchase_after_a_drawdown_is_read_own_money_first(self):
        """A firm that bought this product before the loan buys it again after a drawdown:
        own money first, and its own money covered it."""
        f = factory(basic=6e6)
        txns = busy_month(f)
        txns.append(f.debit(1e6, hours=10 * DAY, **WEALTH))
        txns += [drawdown(f), f.debit(1e6, hours=START + DAY, **WEALTH)]
        assert of("securities_investment", engine(facility()).process_batch(txns)) == []


class TestRealEstate:
    def test_a_land_grant_paid_through_an_own_account_is_caught(self):
        """土地出让金 to a natural-resources bureau (a government body), via the general
        account: real estate by the memo and the payee, not by a 房地产 name."""
        f = factory()
        txns = [*busy_month(f), drawdown(f)]
        txns += move(f, 3e6, hours=START + 2)
        land = f.debit(2.9e6, hours=START + 4, account=GENERAL, name="苏州市自然资源和规划局",
                       counterparty_account="LAND-1", kind="government", memo="土地出让金")
        (alert,) = of("real_estate", engine(facility()).process_batch([*txns, land]))
        assert land.txn_id in alert.evidence_txn_ids

    def test_a_developer_known_only_by_its_industry_code_is_caught(self):
        """A payee named 城市发展 with industry K7010 and a 往来款 memo is a developer."""
        f = factory()
        txns = [drawdown(f, account=LOAN),
                f.debit(2e6, hours=START + 5, account=LOAN, name="苏州城市发展有限公司",
                        counterparty_account="DEV-1", industry="K7010", memo="往来款")]
        (alert,) = of("real_estate", engine(facility(account=LOAN)).process_batch(txns))
        assert alert.facts["payee_class"] == "real_estate"

    def test_rent_to_developers_and_property_firms_is_silent(self):
        """Rent right after a drawdown: to a developer with a rent memo, and to a 置业 firm
        whose industry code says leasing."""
        f = factory()
        txns = [*busy_month(f), drawdown(f)]
        txns.append(f.debit(3e5, hours=START + 5, name="苏州恒远房地产开发有限公司",
                            counterparty_account="LL-1", industry="K7010", memo="厂房租金"))
        txns.append(f.debit(2e5, hours=START + 6, name="苏州恒远置业有限公司",
                            counterparty_account="LL-2", industry="K7040"))
        assert of("real_estate", engine(facility()).process_batch(txns)) == []


class TestDisguisedRepayment:
    def test_another_banks_loan_repaid_through_an_own_account_is_caught(self):
        """Loan money hops to the general account and repays a loan at another bank."""
        f = factory()
        txns = [*busy_month(f), drawdown(f)]
        txns += move(f, 2.5e6, hours=START + 3)
        repay = f.debit(2.4e6, hours=START + 5, account=GENERAL, name="中国工商银行贷款账户",
                        counterparty_account="ICBC-LOAN", kind="loan_account",
                        bank="中国工商银行", memo="归还贷款")
        (alert,) = of("disguised_repayment", engine(facility()).process_batch([*txns, repay]))
        assert repay.txn_id in alert.evidence_txn_ids

    def test_interest_and_principal_to_this_bank_are_silent(self):
        """Right after a drawdown the firm pays this bank's interest and scheduled principal,
        to the facility's loan account and to an unnamed loan account."""
        f = factory()
        txns = [*busy_month(f), drawdown(f)]
        txns.append(f.debit(2e4, hours=START + 4, name="本行贷款账户",
                            counterparty_account="LOAN-F1", kind="loan_account",
                            memo="贷款利息"))
        txns.append(f.debit(1.5e6, hours=START + 5, name="贷款还款专户",
                            counterparty_account="REPAY-9", kind="loan_account",
                            memo="归还贷款本金"))
        assert of("disguised_repayment", engine(facility()).process_batch(txns)) == []


class TestRelatedParty:
    def test_loan_money_to_the_controller_through_an_own_account_is_caught(self):
        """Busy account, a hop, then a transfer to the actual controller."""
        f = factory()
        txns = [*busy_month(f), drawdown(f)]
        txns += move(f, 1.2e6, hours=START + 2)
        boss = f.debit(1e6, hours=START + 3, account=GENERAL, name=CONTROLLER,
                       counterparty_account="6217000000000009", kind="individual")
        (alert,) = of("related_party", engine(facility()).process_batch([*txns, boss]))
        assert alert.facility_id == "F1" and boss.txn_id in alert.evidence_txn_ids

    def test_payroll_to_executives_and_goods_from_an_affiliate_are_silent(self):
        """Wages through the payroll agency, a bonus to the legal representative and goods
        bought from a related firm, all right after a drawdown."""
        f = factory()
        txns = [*busy_month(f), drawdown(f)]
        txns.append(f.debit(6e5, hours=START + 2, name="本行代发工资专户",
                            counterparty_account="PAYROLL", kind="bank", channel="payroll",
                            memo="代发工资"))
        txns.append(f.debit(8e4, hours=START + 3, name=LEGAL_REP,
                            counterparty_account="6217000000000010", kind="individual",
                            memo="奖金"))
        txns.append(f.debit(9e5, hours=START + 4, name="苏州恒达关联贸易有限公司",
                            counterparty_account="AFF-1", kind="affiliate", memo="货款"))
        assert of("related_party", engine(facility()).process_batch(txns)) == []


class TestEntrustedMismatch:
    PAYEES = (EntrustedPayee("核准供应商有限公司", "OK-1", "C3411"),)

    def test_own_payments_in_a_busy_account_before_the_bank_pays_are_silent(self):
        """An entrusted loan drawn into the busy basic account: the firm keeps paying its
        suppliers from its own money, then the bank pays the approved payee."""
        f = factory()
        txns = [*busy_month(f), drawdown(f)]
        txns.append(f.debit(1e6, hours=START + 2, name="供应商0号有限公司",
                            counterparty_account="SUPP0000", memo="材料款"))
        txns.append(f.debit(5e6, hours=START + DAY, name="核准供应商有限公司",
                            counterparty_account="OK-1", channel="entrusted_payment",
                            facility_id="F1", memo="受托支付"))
        loan = facility(entrusted=self.PAYEES)
        assert of("entrusted_mismatch", engine(loan).process_batch(txns)) == []

    def test_spending_past_own_money_reaches_the_earmarked_loan_money(self):
        """The firm pays a new payee more than its own money before the bank pays: the
        excess is the entrusted facility's money."""
        f = factory()
        txns = [*busy_month(f), drawdown(f)]
        wrong = f.debit(4.5e6, hours=START + 2, name="新商贸有限公司",
                        counterparty_account="NEW-1", memo="货款")
        (alert,) = of("entrusted_mismatch", engine(facility(entrusted=self.PAYEES))
                      .process_batch([*txns, wrong]))
        assert alert.facts["loan_money"] > 1e6

    def test_a_payment_booked_as_entrusted_to_another_payee_is_caught(self):
        """The bank's entrusted payment goes to a payee outside the approved list."""
        f = factory()
        txns = [drawdown(f, account=LOAN),
                f.debit(2e6, hours=START + 3, account=LOAN, name="未核准有限公司",
                        counterparty_account="NOT-OK", channel="entrusted_payment",
                        facility_id="F1", memo="受托支付")]
        loan = facility(account=LOAN, entrusted=self.PAYEES)
        assert len(of("entrusted_mismatch", engine(loan).process_batch(txns))) == 1

