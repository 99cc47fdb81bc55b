"""The monitoring rule sets by version: every rule's parameters, as data.

Defaults are the DOMAIN §6 practice values (configurable, not regulation). A version is
immutable once alerts cite it; a changed default means a new version key in ``RULESETS``.
``ruleset`` validates overrides against these values and builds a ``Ruleset`` from them.
"""

from __future__ import annotations

from collections.abc import Mapping

ParamValue = bool | int | float | str | tuple[str, ...] | tuple[float, ...]
RuleParams = Mapping[str, ParamValue]

TRACKING = "tracking"  # Engine-wide tracing parameters; a parameter group, not a rule.
PAYEES = "payees"  # How postings are classified; a parameter group, not a rule.
GROUPS = frozenset({TRACKING, PAYEES})
DEFAULT_VERSION = "MON-2027.1"

_WAN = 10_000.0  # 万

# Keyword lists of group "payees": practice values (DOMAIN §6), matched as substrings.
_PAYEES: dict[str, ParamValue] = {
    "investment_kinds": ("broker", "futures", "wealth", "fund"),
    "investment_names": ("证券", "期货", "基金", "理财", "信托", "资产管理", "资管", "私募"),
    "investment_memos": ("银证", "三方存管", "证券", "期货", "基金", "申购", "认购", "理财",
                         "信托", "股票", "配资", "打新"),
    "investment_industries": ("67", "664", "691"),
    "estate_names": ("房地产", "置业", "地产", "房产"),
    "estate_memos": ("购房", "房款", "商品房", "首付", "土地出让", "土地款", "土地价款", "拍地",
                     "竞买保证金", "土地保证金"),
    "estate_industries": ("701",),
    "estate_exempt_industries": ("702", "703", "704", "709"),
    "rent_memos": ("租金", "房租", "物业费", "物业管理", "水电", "电费", "水费", "燃气费",
                   "停车", "租赁费"),
    "land_names": ("自然资源", "国土资源", "土地储备", "公共资源交易"),
    "lender_kinds": ("microlender", "guarantor"),
    "lender_names": ("小额贷款", "小贷", "融资担保", "担保", "典当", "保理", "融资租赁",
                     "消费金融"),
    "lender_industries": ("663",),
    "bank_names": ("银行", "信用社", "信用联社", "农商行"),
    "repayment_memos": ("还款", "还贷", "归还", "还本", "本金", "借款", "还借", "贷款"),
    "interest_memos": ("利息", "结息", "手续费", "服务费", "代发", "年费"),
    "payroll_memos": ("工资", "薪", "代发", "奖金", "绩效", "社保", "社会保险", "公积金",
                      "报销", "差旅", "劳务费"),
    "tax_memos": ("税", "国库", "金库"),
    "tax_names": ("国家金库", "税务", "国库"),
    "pool_memos": ("资金归集", "归集", "资金池", "下拨", "上划"),
}
_PAYEES.update({
    # Memos that name goods or services: the payment buys something the loan may pay for.
    "goods_memos": ("货款", "材料", "原料", "设备", "工程款", "进度款", "采购", "加工费", "运费",
                    "配件", "备件", "燃料", "技术服务", "设计费", "安装", "购货", "服务费"),
    # Memos that move money without buying or selling anything (往来款, loans, refunds).
    "transfer_memos": ("往来", "借款", "拆借", "预付", "转账", "退款", "退回", "返还", "周转",
                       "资金"),
    # Names this bank goes by on postings (a deployment adds its registered name).
    "own_bank_names": ("本行",),
    # Memos of a drawdown booked by the loan system when core banking does not tag it.
    "drawdown_memos": ("放款", "贷款发放", "发放贷款", "提款", "贷款入账"),
})

RULESETS: dict[str, dict[str, dict[str, ParamValue]]] = {
    "MON-2027.1": {
        TRACKING: {
            # Loan money is followed this long after its drawdown (calendar days) ...
            "window_days": 60.0,
            # ... while what is left of a lot is at least this much (and this share of it).
            "residue_floor": 1 * _WAN,
            "residue_share": 0.01,
            # Recent posting ids kept per unit for duplicate suppression (the service also
            # dedupes persistently), the cap on entries in any one window, counterparties kept.
            "seen_ids_hours": 96.0,
            "seen_ids_cap": 4096,
            "max_window_entries": 512,
            "party_cap": 1024,
            # A payee first paid at least this long before a drawdown is a known payee.
            "known_payee_days": 1.0,
        },
        PAYEES: _PAYEES,
        "round_trip": {
            "enabled": True, "level": "red", "dedupe_days": 30.0,
            "window_days": 30.0, "return_share": 0.5, "min_return_amount": 10 * _WAN,
            # More than this multiple of what left is not the same money coming back.
            "return_ratio_max": 1.2,
            # A new remitter whose money matches a recent loan-money payment to a new payee
            # (A -> X, Y -> A) is a return through shells when the amounts agree this closely,
            # the payment was mostly loan money and a real part of the facility, and the
            # return is far above the unit's usual receipt.
            "shell_ratio_min": 0.6, "shell_ratio_max": 1.05, "shell_loan_share": 0.25,
            "shell_facility_share": 0.2, "shell_receipt_multiple": 2.0,
            # Counterparties count as new only once the unit has this much history.
            "min_history_days": 10.0,
            "red_from": 0.5, "orange_from": 0.1,
        },
        "fast_in_fast_out": {
            "enabled": True, "level": "orange", "dedupe_days": 3.0,
            "window_days": 3.0, "outflow_share": 0.8,
            # "Near zero" = at most max(near_zero_amount, near_zero_share x drawn).
            "near_zero_amount": 10 * _WAN, "near_zero_share": 0.05,
            # At least this share of what left went to payees that explain nothing (not
            # entrusted, not known, not buying what the loan is for).
            "unexplained_share": 0.5, "min_drawdown": 10 * _WAN,
            "red_from": 1.1, "orange_from": 0.3,
        },
        "securities_investment": {
            "enabled": True, "level": "red", "dedupe_days": 30.0,
            "min_loan_money": 3 * _WAN, "min_loan_share": 0.2,
            "red_from": 0.2, "orange_from": 0.05,
        },
        "real_estate": {
            "enabled": True, "level": "red", "dedupe_days": 30.0,
            "min_loan_money": 3 * _WAN, "min_loan_share": 0.2,
            "red_from": 0.2, "orange_from": 0.05,
        },
        "related_party": {
            "enabled": True, "level": "orange", "dedupe_days": 30.0,
            "min_loan_money": 5 * _WAN, "min_loan_share": 0.2,
            # Company-to-personal transfers (not payroll) at or above this are flagged
            # whatever the money (the AML line for transfers to individuals).
            "personal_transfer_threshold": 50 * _WAN,
            # A payment to an affiliate whose memo names goods is trade unless it is more than
            # this multiple of the largest paid to it before (or of what it usually pays).
            "affiliate_trade_multiple": 5.0,
            "red_from": 1.1, "orange_from": 0.1,
        },
        "entrusted_mismatch": {
            "enabled": True, "level": "orange", "dedupe_days": 30.0,
            "min_loan_money": 5 * _WAN,
            "red_from": 1.1, "orange_from": 0.1,
        },
        "disguised_repayment": {
            "enabled": True, "level": "orange", "dedupe_days": 30.0,
            "window_days": 30.0, "min_loan_money": 5 * _WAN, "min_loan_share": 0.2,
            "red_from": 1.1, "orange_from": 0.1,
        },
        "cash_structuring": {
            "enabled": True, "level": "orange", "dedupe_days": 1.0,
            # Cash lines: the PBOC large-value cash line per day, and splits just under it.
            "cash_threshold": 5 * _WAN, "band_share": 0.1, "min_count": 3,
            # Loan money withdrawn in cash at or above this (the money leaves every trace), or
            # a withdrawal at the cash line that is at least this share loan money (the floor
            # share the diversion rules use).
            "loan_cash_min": 5 * _WAN, "loan_cash_share": 0.2,
            # Own money withdrawn in cash in one day at or above this, and this multiple of
            # the client's largest cash day so far.
            "large_cash_day": 20 * _WAN, "large_cash_multiple": 3.0,
            # Transfers split just under a line: to persons (50万) or to one payee (200万).
            "person_line": 50 * _WAN, "payee_line": 200 * _WAN,
            "red_from": 1.1, "orange_from": 0.0,
        },
        "balance_collapse": {
            "enabled": True, "level": "yellow", "dedupe_days": 7.0,
            # Deposits fall by drop_share from their recent level within drop_days calendar
            # days, and end below (1 - average_drop_share) of their average_days average.
            "drop_share": 0.75, "drop_days": 3.0, "average_days": 30.0,
            "average_drop_share": 0.5,
            "average_floor": 5 * _WAN, "min_history_days": 14.0,
            # Most of the drop went to payees that are not the firm's ordinary ones.
            "unusual_share": 0.5,
            "red_from": 1.1, "orange_from": 1.1,
        },
    },
}
