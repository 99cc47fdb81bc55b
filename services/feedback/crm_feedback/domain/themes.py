"""Group free-text answers into themes with a keyword lexicon (zh and en), no ML.

Matching rules, chosen to be deterministic and explainable:

- text is case-folded; Chinese keywords match as substrings;
- English keywords match whole words, with an optional plural ``s``/``es`` (so ``app``
  does not match "approval" and ``rate`` does not match "accurate");
- a theme may list phrases its keywords must not be read inside (``手续费`` is a fee,
  not paperwork; ``延期还款`` is a repayment problem, not a project delay): those
  phrases are blanked out before that theme's keywords are matched.

A theme is a topic, not a sentiment: "审批不慢" is still about approval speed. Risk
signals, where negation matters, live in :mod:`crm_feedback.domain.risk_signals` and are
re-exported here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from crm_feedback.domain.risk_signals import RISK_CODES, RiskSignal, risk_signals

__all__ = [
    "LEXICON",
    "RISK_CODES",
    "THEMES",
    "RiskSignal",
    "ThemeCount",
    "risk_signals",
    "theme_counts",
    "themes_of",
]

MAX_EXAMPLE_CHARS: Final = 200


@dataclass(frozen=True, slots=True)
class ThemeLexicon:
    """Keywords of one theme and the phrases they must not be matched inside."""

    theme: str
    zh: tuple[str, ...]
    en: tuple[str, ...]
    not_within: tuple[str, ...] = ()


LEXICON: Final = (
    ThemeLexicon(
        "approval_speed",
        zh=("审批慢", "放款慢", "审批太慢", "审批时间", "审批周期", "审批效率", "审批速度",
            "放款速度", "放款时间", "等待时间", "等了很久", "流程慢", "流程太长", "效率低"),
        en=("slow approval", "approval time", "approval speed", "approval process",
            "approval took", "slow disbursement", "disbursement took", "turnaround",
            "waiting time", "took too long", "too slow", "waited"),
    ),
    ThemeLexicon(
        "pricing",
        zh=("利率", "费用", "利息", "收费", "手续费", "价格", "融资成本", "成本高", "太贵", "偏贵"),
        en=("rate", "interest rate", "interest cost", "fee", "pricing", "price", "cost",
            "expensive", "cheap"),
        not_within=("response rate", "approval rate", "success rate"),
    ),
    ThemeLexicon(
        "rm_service",
        zh=("客户经理", "态度", "服务", "响应", "回复", "专业", "热情", "耐心"),
        en=("relationship manager", "rm", "responsive", "unresponsive", "attitude",
            "service", "helpful", "professional", "friendly", "account manager"),
        not_within=("手机银行服务", "网银服务", "online service"),
    ),
    ThemeLexicon(
        "digital_channels",
        zh=("网银", "网上银行", "手机银行", "小程序", "线上", "电子渠道", "企业微信"),
        en=("app", "online banking", "mobile banking", "internet banking", "website",
            "portal", "digital", "online", "e-banking"),
    ),
    ThemeLexicon(
        "documentation",
        zh=("材料", "资料", "手续繁琐", "手续多", "手续复杂", "文件", "表格", "盖章", "证明"),
        en=("paperwork", "document", "documentation", "form", "red tape", "bureaucracy"),
    ),
    ThemeLexicon(
        "project_progress",
        zh=("工期", "延期", "延误", "进度", "停工", "竣工", "完工", "拖期", "施工"),
        en=("delay", "delayed", "schedule", "progress", "construction", "milestone",
            "completion date"),
        not_within=("延期还款", "还款延期"),
    ),
    ThemeLexicon(
        "payment_difficulty",
        zh=("资金紧张", "还款困难", "还款压力", "周转困难", "资金周转", "现金流", "资金链",
            "延期还款", "还款延期", "逾期", "回款慢", "欠款"),
        en=("cash flow", "cashflow", "liquidity", "repayment difficulty", "difficulty repaying",
            "struggling to repay", "unable to repay", "tight funds", "overdue",
            "late payment"),
    ),
)
THEMES: Final = tuple(entry.theme for entry in LEXICON)


def _english_pattern(keywords: tuple[str, ...]) -> re.Pattern[str]:
    """Compile whole-word alternatives with an optional plural ending."""
    # Longest first so that "online banking" wins over "online" in the same place.
    alternatives = "|".join(re.escape(word) for word in sorted(keywords, key=len, reverse=True))
    return re.compile(rf"(?<![a-z0-9])(?:{alternatives})(?:e?s)?(?![a-z0-9])")


_EN_PATTERNS: Final = {entry.theme: _english_pattern(entry.en) for entry in LEXICON}


def _matches(entry: ThemeLexicon, folded: str) -> bool:
    """Tell whether case-folded text mentions the theme."""
    for phrase in entry.not_within:
        folded = folded.replace(phrase, " " * len(phrase))
    if any(keyword in folded for keyword in entry.zh):
        return True
    return _EN_PATTERNS[entry.theme].search(folded) is not None


def themes_of(text: str) -> list[str]:
    """Return the themes a text mentions, in lexicon order (empty if none)."""
    folded = text.casefold()
    return [entry.theme for entry in LEXICON if _matches(entry, folded)]


@dataclass(frozen=True, slots=True)
class ThemeCount:
    """How many texts mention a theme, and the first such text as an example."""

    theme: str
    count: int
    example: str


def theme_counts(texts: Iterable[str]) -> list[ThemeCount]:
    """Return themes by how many texts mention them (most first, ties in lexicon order).

    Themes no text mentions are left out. The example is the first matching text in
    input order, cut to 200 characters.
    """
    counts: dict[str, int] = dict.fromkeys(THEMES, 0)
    examples: dict[str, str] = {}
    for text in texts:
        for theme in themes_of(text):
            counts[theme] += 1
            examples.setdefault(theme, text.strip()[:MAX_EXAMPLE_CHARS])
    order = {theme: index for index, theme in enumerate(THEMES)}
    present = [theme for theme in THEMES if counts[theme]]
    present.sort(key=lambda theme: (-counts[theme], order[theme]))
    return [ThemeCount(theme, counts[theme], examples[theme]) for theme in present]
