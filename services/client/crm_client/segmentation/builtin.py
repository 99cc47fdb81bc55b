"""Define the segments every installation starts with, as data in the same form users edit.

Each definition is a rule expression over ``features.KNOWN_FEATURES``. Priority orders segments
for display and for campaigns that must pick one segment per client: lower means more important
(risk first, then credit tier, behaviour, demography). Thresholds are in the expressions, where
users can read and change them, not in code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

SegmentKind = Literal["demographic", "behavioural", "credit_tier"]

_SEGMENT_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

# Ids that other code (recommendations, notification campaigns) refers to by name.
SEGMENT_HIGH_VALUE = "beh-high-value"
SEGMENT_ACTIVE = "beh-active"
SEGMENT_DORMANT = "beh-dormant"
SEGMENT_DECLINING_BALANCE = "beh-declining-balance"
SEGMENT_POTENTIAL_RISK = "beh-potential-risk"
SEGMENT_PROJECT_FINANCE = "demo-project-finance"


@dataclass(frozen=True, slots=True)
class SegmentDefinition:
    """One segment: a stable id, what kind it is, names for people, and its rule."""

    segment_id: str
    kind: SegmentKind
    display_name: str
    display_name_zh: str
    description: str
    expression: str
    priority: int

    def __post_init__(self) -> None:
        """Reject ids that would not survive use in resource names and kinds we do not know."""
        if not _SEGMENT_ID.fullmatch(self.segment_id):
            raise ValueError(f"segment_id {self.segment_id!r} must be lower-kebab-case")
        if self.kind not in get_args(SegmentKind):
            raise ValueError(f"kind {self.kind!r} not in {get_args(SegmentKind)}")


_Row = tuple[str, str, str, str, str, int]  # id, name, name_zh, description, expression, priority


def _define(kind: SegmentKind, row: _Row) -> SegmentDefinition:
    segment_id, name, name_zh, description, expression, priority = row
    return SegmentDefinition(segment_id, kind, name, name_zh, description, expression, priority)


def _demographic(*row: *_Row) -> SegmentDefinition:
    return _define("demographic", row)


def _behavioural(*row: *_Row) -> SegmentDefinition:
    return _define("behavioural", row)


def _tier(tier: str, name: str, name_zh: str, grades: str, priority: int) -> SegmentDefinition:
    return SegmentDefinition(
        f"tier-{tier.replace('_', '-')}",
        "credit_tier",
        name,
        name_zh,
        f"Current grade is in the {tier} tier ({grades}).",
        f"credit.tier == '{tier}'",
        priority,
    )


_SIZE_NAMES = {"large": "大型企业", "medium": "中型企业", "small": "小型企业", "micro": "微型企业"}

BUILTIN_SEGMENTS: tuple[SegmentDefinition, ...] = (
    _behavioural(
        SEGMENT_POTENTIAL_RISK, "Potential risk", "潜在风险客户",
        "Flagged by an early warning, an orange or red warning open, or average balance more "
        "than halved against the previous period.",
        "credit.potential_risk == true or credit.warning_level in ['orange', 'red'] "
        "or activity.balance_trend < -0.5",
        10,
    ),
    _behavioural(
        SEGMENT_DECLINING_BALANCE, "Declining balance", "存款余额下滑客户",
        "Average balance fell by 30% or more against the previous 90 days.",
        "activity.balance_trend <= -0.3",
        12,
    ),
    _tier("default", "Credit tier: default", "信用等级：违约级", "D", 20),
    _tier("distressed", "Credit tier: distressed", "信用等级：困境级", "CCC+, CCC-C", 21),
    _tier("sub_investment", "Credit tier: sub-investment", "信用等级：次投资级", "BB+ to B-", 22),
    _tier("standard", "Credit tier: standard", "信用等级：一般级", "BBB+ to BBB-", 23),
    _tier("strong", "Credit tier: strong", "信用等级：良好级", "A+ to A-", 24),
    _tier("prime", "Credit tier: prime", "信用等级：优质级", "AAA to AA-", 25),
    _tier("unrated", "Credit tier: unrated", "信用等级：未评级", "no current rating", 26),
    _behavioural(
        SEGMENT_HIGH_VALUE, "High value", "高价值客户",
        "Average balance of 20 million CNY or more, at least 60 transactions in 90 days and "
        "two or more loan products.",
        "activity.avg_balance_wan >= 2000 and activity.txn_count_90d >= 60 "
        "and activity.loan_products_used >= 2",
        30,
    ),
    _behavioural(
        SEGMENT_ACTIVE, "Active", "活跃客户",
        "At least 20 transactions in 90 days, the latest within 30 days.",
        "activity.txn_count_90d >= 20 and activity.days_since_last_txn <= 30",
        31,
    ),
    _behavioural(
        SEGMENT_DORMANT, "Dormant", "沉睡客户",
        "No transaction for 90 days or more.",
        "activity.days_since_last_txn >= 90 or activity.txn_count_90d == 0",
        32,
    ),
    _demographic(
        SEGMENT_PROJECT_FINANCE, "Project-finance clients", "项目融资客户",
        "Borrowers whose facilities are repaid from a financed project's cash flows.",
        "client.is_project_finance == true",
        40,
    ),
    _demographic(
        "demo-industry-manufacturing", "Manufacturing", "制造业客户",
        "GB/T 4754 section C.",
        "client.industry_section == 'C'",
        50,
    ),
    _demographic(
        "demo-industry-real-estate", "Real estate", "房地产业客户",
        "GB/T 4754 section K.",
        "client.industry_section == 'K'",
        51,
    ),
    *(
        _demographic(
            f"demo-size-{size}", f"{size.capitalize()} enterprises", name_zh,
            f"MIIT size class '{size}'.",
            f"client.size_class == '{size}'",
            60 + index,
        )
        for index, (size, name_zh) in enumerate(_SIZE_NAMES.items())
    ),
    _demographic(
        "demo-young-firms", "Young firms", "初创企业（成立不满3年）",
        "Founded less than three years ago.",
        "client.firm_age_years < 3",
        70,
    ),
    _demographic(
        "demo-established-firms", "Established firms", "成熟企业（成立10年及以上）",
        "Founded ten or more years ago.",
        "client.firm_age_years >= 10",
        71,
    ),
    _demographic(
        "demo-young-professional-owners", "Young professional owners", "青年专业型企业主",
        "Owner under 40 with a bachelor's degree or higher.",
        "owner.age < 40 and owner.education in ['bachelor', 'master', 'doctorate']",
        80,
    ),
    _demographic(
        "demo-middle-aged-entrepreneurs", "Middle-aged entrepreneurs", "中年民营企业家",
        "Owner aged 40 to 59 of a privately owned firm.",
        "between(owner.age, 40, 59) and client.ownership_type == 'private'",
        81,
    ),
    _demographic(
        "demo-retiree-age-owners", "Retiree-age owners", "60岁及以上企业主",
        "Owner aged 60 or over; succession planning is a topic.",
        "owner.age >= 60",
        82,
    ),
)  # fmt: skip
