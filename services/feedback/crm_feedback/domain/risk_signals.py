"""Risk signals in survey answers and visit notes, for the risk service to weigh.

A signal is evidence, not a warning: risk decides what it means for the rating. Two
sources are combined:

- **text** (zh and en keyword patterns). Unlike themes, negation matters here: a
  keyword directly after a negator ("没有出现延期", "未停产", "no delays",
  "hasn't been delayed") does not count. The negation check is deliberately local
  (the negator right before the keyword, allowing up to two words such as 出现/发生
  or "been") so that "工人不足导致停工" still signals;
- **structured fields** of a visit record, listed in :data:`STRUCTURED_FIELDS`; unknown
  keys are ignored because visit notes carry other data too.

Each code is reported once, with the highest severity found and its evidence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

Severity = Literal["low", "medium", "high"]
RISK_CODES: Final = (
    "PROJECT_DELAYED",
    "PAYMENT_DIFFICULTY",
    "KEY_STAFF_LEFT",
    "PRODUCTION_HALTED",
    "LITIGATION",
)
PROGRESS_GAP_POINTS: Final = 20.0
"""Actual progress behind plan by more than this many points is a delay signal."""
SEVERE_PROGRESS_GAP_POINTS: Final = 40.0
SEVERE_OVERDUE_DAYS: Final = 90
STRUCTURED_FIELDS: Final = (
    "progress_pct",
    "planned_progress_pct",
    "missed_milestones",
    "production_status",
    "key_staff_departed",
    "controller_unreachable",
    "litigation_pending",
    "payment_overdue_days",
)
_RANK: Final[Mapping[str, int]] = {"low": 0, "medium": 1, "high": 2}
_SNIPPET_CHARS: Final = 15


@dataclass(frozen=True, slots=True)
class RiskSignal:
    """One risk signal: a code from :data:`RISK_CODES`, its severity and the evidence."""

    code: str
    severity: Severity
    evidence: str


@dataclass(frozen=True, slots=True)
class _Pattern:
    """A compiled keyword pattern and the signal it raises."""

    code: str
    severity: Severity
    regex: re.Pattern[str]


def _zh(code: str, severity: Severity, *words: str) -> _Pattern:
    """Build a pattern of literal Chinese keywords (substring match)."""
    return _Pattern(code, severity, re.compile("|".join(map(re.escape, words))))


def _en(code: str, severity: Severity, *patterns: str) -> _Pattern:
    """Build a pattern of English regex alternatives that must match whole words."""
    joined = "|".join(patterns)
    return _Pattern(code, severity, re.compile(rf"(?<![a-z0-9])(?:{joined})(?![a-z0-9])"))


_CASH = r"cash[- ]?flow"
_PATTERNS: Final = (
    _zh("PROJECT_DELAYED", "medium", "延期", "延误", "工期拖延", "拖期", "进度滞后", "进度落后",
        "进度缓慢", "未按期完工", "未按时完工", "无法按期"),
    _zh("PROJECT_DELAYED", "high", "项目停滞", "烂尾"),
    _en("PROJECT_DELAYED", "medium", r"delay(?:s|ed)?", r"behind schedule", r"postponed",
        r"slipp(?:ed|age)", r"late completion"),
    _en("PROJECT_DELAYED", "high", r"stalled", r"abandoned"),
    _zh("PAYMENT_DIFFICULTY", "medium", "资金紧张", "还款困难", "还款压力", "周转困难",
        "延期还款", "回款困难", "拖欠工资", "欠薪"),
    _zh("PAYMENT_DIFFICULTY", "high", "资金链断裂", "无法还款", "还不上", "逾期"),
    _en("PAYMENT_DIFFICULTY", "medium", rf"{_CASH} (?:problem|issue|difficult|pressure|strain)\w*",
        rf"tight {_CASH}", rf"{_CASH} is tight", r"(?:struggling|difficulty|difficulties) "
        r"(?:to )?repay\w*", r"liquidity (?:problem|issue|crunch|pressure)\w*",
        r"unpaid wages", r"late payments?"),
    _en("PAYMENT_DIFFICULTY", "high", r"unable to repay", r"cannot repay", r"can't repay",
        r"defaulted", r"overdue"),
    _zh("KEY_STAFF_LEFT", "medium", "离职", "辞职", "核心人员流失", "核心团队流失", "高管变动"),
    _zh("KEY_STAFF_LEFT", "high", "实际控制人失联", "实控人失联", "法人失联", "老板失联", "跑路",
        "被拘留", "被刑拘"),
    _en("KEY_STAFF_LEFT", "medium", r"(?:cfo|ceo|coo|general manager|finance director|chief "
        r"engineer|project manager|key staff|key personnel|founder|chairman)s? (?:has |have )?"
        r"(?:left|resigned|quit|departed)", r"resign(?:ed|ation)"),
    _en("KEY_STAFF_LEFT", "high", r"(?:owner|controller|chairman|founder) (?:is |has gone |went )?"
        r"missing", r"absconded", r"detained"),
    _zh("PRODUCTION_HALTED", "high", "停产", "停工", "停业", "歇业", "关停", "停止生产",
        "工厂关闭"),
    _zh("PRODUCTION_HALTED", "medium", "减产", "限产", "开工不足"),
    _en("PRODUCTION_HALTED", "high", r"production (?:has |was )?(?:halted|stopped|suspended|"
        r"ceased)", r"(?:halted|stopped|suspended|ceased) production", r"shut ?down",
        r"(?:plant|factory) (?:was |has )?closed", r"(?:work|construction) (?:has )?stopped"),
    _en("PRODUCTION_HALTED", "medium", r"reduced production", r"production (?:cut|reduced)\w*",
        r"half capacity"),
    _zh("LITIGATION", "high", "诉讼", "起诉", "被诉", "被告", "仲裁", "查封", "被冻结",
        "资产冻结", "账户冻结", "被执行人", "失信", "强制执行"),
    _zh("LITIGATION", "medium", "纠纷", "官司"),
    _en("LITIGATION", "high", r"lawsuits?", r"sued", r"litigation", r"court (?:case|order|"
        r"ruling|judg(?:e)?ment)s?", r"arbitration", r"judgment debtor",
        r"assets? (?:were |was |are |is )?(?:frozen|seized)"),
    _en("LITIGATION", "medium", r"legal disputes?"),
)
# Phrases that are not signals although they contain a keyword: a bank RM changing jobs
# is not the borrower's key staff leaving.
_NOT_SIGNALS: Final = ("客户经理离职", "客户经理辞职", "relationship manager resigned")
# Phrases a code's keywords must not be read inside: 延期还款 is a repayment problem
# (PAYMENT_DIFFICULTY), not a project delay.
_NOT_WITHIN: Final[Mapping[str, tuple[str, ...]]] = {
    "PROJECT_DELAYED": ("延期还款", "还款延期", "payment delayed", "delayed payment"),
}
_ZH_NEGATION: Final = re.compile(r"(?:没有|没|未|无|不|并未|从未|尚未)(?:出现|发生|有|会|曾)?\s*\Z")
_EN_NEGATION: Final = re.compile(r"(?:\b(?:no|not|never|without)|n't)(?:\s+[a-z]+){0,2}\s*\Z")


def _negated(folded: str, start: int) -> bool:
    """Tell whether a negator sits right before position ``start``."""
    before = folded[max(0, start - 30) : start]
    return bool(_ZH_NEGATION.search(before) or _EN_NEGATION.search(before))


def _text_findings(text: str) -> list[tuple[str, Severity, str]]:
    """Return (code, severity, evidence) for every non-negated keyword hit."""
    # Lower-case character by character, keeping length so match offsets index ``text``
    # (str.casefold turns "ß" into "ss" and would shift the evidence snippet).
    folded = "".join(lc if len(lc := char.lower()) == 1 else char for char in text)
    for phrase in _NOT_SIGNALS:
        folded = folded.replace(phrase, " " * len(phrase))
    findings: list[tuple[str, Severity, str]] = []
    for pattern in _PATTERNS:
        searched = folded
        for phrase in _NOT_WITHIN.get(pattern.code, ()):
            searched = searched.replace(phrase, " " * len(phrase))
        for match in pattern.regex.finditer(searched):
            if _negated(searched, match.start()):
                continue
            low, high = max(0, match.start() - _SNIPPET_CHARS), match.end() + _SNIPPET_CHARS
            # Quote the original text (not the case-folded copy) as evidence.
            findings.append((pattern.code, pattern.severity, f'text: "{text[low:high].strip()}"'))
            break
    return findings


def _number(structured: Mapping[str, object], key: str) -> float | None:
    """Read an optional numeric field; raise ValueError for a non-number."""
    value = structured.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"{key} must be a number"
        raise ValueError(msg)
    return float(value)


def _flag(structured: Mapping[str, object], key: str) -> bool:
    """Read an optional bool field (absent = False); raise ValueError for a non-bool."""
    value = structured.get(key, False)
    if not isinstance(value, bool):
        msg = f"{key} must be a bool"
        raise ValueError(msg)
    return value


def _count_or_names(structured: Mapping[str, object], key: str) -> tuple[int, str]:
    """Read a field given either as a count or as a list of names; return (count, label)."""
    value = structured.get(key)
    if value is None or value is False:
        return 0, ""
    if value is True:
        return 1, ""
    if isinstance(value, int):
        return value, ""
    if isinstance(value, Sequence) and not isinstance(value, str):
        names = [str(item) for item in value]
        return len(names), ", ".join(names)
    msg = f"{key} must be a bool, a count or a list of names"
    raise ValueError(msg)


def _structured_findings(structured: Mapping[str, object]) -> list[tuple[str, Severity, str]]:
    """Return (code, severity, evidence) from the visit record's structured fields."""
    findings: list[tuple[str, Severity, str]] = []
    actual = _number(structured, "progress_pct")
    planned = _number(structured, "planned_progress_pct")
    if actual is not None and planned is not None and planned - actual > PROGRESS_GAP_POINTS:
        gap = planned - actual
        severity: Severity = "high" if gap > SEVERE_PROGRESS_GAP_POINTS else "medium"
        findings.append(("PROJECT_DELAYED", severity,
                         f"progress_pct {actual:g} vs planned {planned:g} ({gap:g} points behind)"))
    missed, names = _count_or_names(structured, "missed_milestones")
    if missed > 0:
        findings.append(("PROJECT_DELAYED", "high" if missed >= 2 else "medium",
                         f"missed_milestones: {names or missed}"))
    status = structured.get("production_status")
    if status in {"halted", "stopped", "suspended"}:
        findings.append(("PRODUCTION_HALTED", "high", f"production_status: {status}"))
    elif status == "reduced":
        findings.append(("PRODUCTION_HALTED", "medium", "production_status: reduced"))
    departed, roles = _count_or_names(structured, "key_staff_departed")
    if departed > 0:
        findings.append(("KEY_STAFF_LEFT", "medium", f"key_staff_departed: {roles or departed}"))
    if _flag(structured, "controller_unreachable"):
        findings.append(("KEY_STAFF_LEFT", "high", "controller_unreachable"))
    if _flag(structured, "litigation_pending"):
        findings.append(("LITIGATION", "high", "litigation_pending"))
    overdue_days = _number(structured, "payment_overdue_days")
    if overdue_days is not None and overdue_days > 0:
        severity = "high" if overdue_days >= SEVERE_OVERDUE_DAYS else "medium"
        findings.append(("PAYMENT_DIFFICULTY", severity,
                         f"payment_overdue_days: {overdue_days:g}"))
    return findings


def risk_signals(text: str, *, structured: Mapping[str, object]) -> list[RiskSignal]:
    """Return one signal per code found in text or structured fields, in RISK_CODES order."""
    severities: dict[str, Severity] = {}
    evidence: dict[str, list[str]] = {}
    for code, severity, found in _text_findings(text) + _structured_findings(structured):
        if code not in severities or _RANK[severity] > _RANK[severities[code]]:
            severities[code] = severity
        if found not in evidence.setdefault(code, []):
            evidence[code].append(found)
    return [
        RiskSignal(code, severities[code], "; ".join(evidence[code]))
        for code in RISK_CODES
        if code in severities
    ]
