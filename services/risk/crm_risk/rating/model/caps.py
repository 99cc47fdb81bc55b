"""Which open warnings may cap a grade: only corroborated ones.

The scorecard already reads the statements, so a warning raised from the same statements
adds no new evidence; capping on it double-counts, and SC-2026.1's caps on ratio noise made
capped clients default less than uncapped ones. A warning caps the grade only when it is
corroborated: a hard fact on its own (a cross-default reported by another bank), or the
same concern seen by at least two independent sources (statements, transactions, external
signals, feedback from visits). Concentration warnings are about the bank's own limits,
not the borrower, and never cap a grade.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, get_args

WarningLevel = Literal["none", "blue", "yellow", "orange", "red"]
WARNING_LEVELS: Final[tuple[str, ...]] = get_args(WarningLevel)
_RANK: Final = {level: rank for rank, level in enumerate(WARNING_LEVELS)}
SELF_EVIDENT_RULES: Final = frozenset({"external_cross_default"})
NOT_BORROWER_RISK: Final = frozenset({"concentration"})


@dataclass(frozen=True)
class OpenWarning:
    """An open warning as the rating sees it: source, rule and its own (unescalated) level."""

    source: str
    rule: str
    level: WarningLevel


@dataclass(frozen=True)
class Corroboration:
    """The level the open warnings establish together, and the evidence behind it."""

    level: WarningLevel
    evidence: tuple[str, ...]  # "source:rule" of the warnings that establish it


def evidence_source(warning: OpenWarning) -> str:
    """Return the independent source a warning comes from (feedback is apart from records)."""
    if warning.rule.startswith("feedback_"):
        return "feedback"
    return warning.source


def worst(levels: Sequence[str]) -> WarningLevel:
    """Return the worst of some warning levels ("none" for none)."""
    found: WarningLevel = "none"
    for level in levels:
        if _RANK[level] > _RANK[found]:
            found = level  # type: ignore[assignment]
    return found


def corroborated(warnings: Sequence[OpenWarning]) -> Corroboration:
    """Return the worst level that is a hard fact or is seen by two independent sources."""
    relevant = [w for w in warnings if w.source not in NOT_BORROWER_RISK]
    by_source: dict[str, OpenWarning] = {}
    for w in relevant:
        source = evidence_source(w)
        if source not in by_source or _RANK[w.level] > _RANK[by_source[source].level]:
            by_source[source] = w
    ranked = sorted(by_source.values(), key=lambda w: _RANK[w.level], reverse=True)
    level: WarningLevel = "none"
    evidence: tuple[str, ...] = ()
    if len(ranked) >= 2 and ranked[1].level != "none":
        # Two sources agree at least on the second one's level.
        level = ranked[1].level
        evidence = tuple(f"{w.source}:{w.rule}" for w in ranked if _RANK[w.level] >= _RANK[level])
    for w in relevant:
        if w.rule in SELF_EVIDENT_RULES and _RANK[w.level] > _RANK[level]:
            level, evidence = w.level, (f"{w.source}:{w.rule}",)
    return Corroboration(level=level, evidence=evidence)
