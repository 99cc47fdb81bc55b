"""Ratio warnings that mean something: book-relative thresholds, a level set by evidence.

Each rule watches one ratio. Its thresholds are the worst 5 % (orange signal) and worst 1 %
(red signal) of the book's own distribution for the client's peer group and size class,
fitted offline (``python -m crm_sim.rating.fit_warnings``) into ``fitted/<version>.json``;
two rules come from DOMAIN §7/§9 directly (operating cash flow negative two years running;
a developer breaching all three red lines). Each signal carries evidence: the log of how
much more often clients past that threshold defaulted than the book did. Signals of one
family (liquidity, leverage, ...) say the same thing, so only the strongest counts. Families
are not independent either (a loss-making firm is often short of cash too), so their
evidence adds up with diminishing weight: the strongest fully, the next at half, the third
at a quarter. The total sets the warning level, whose boundaries the fit places where the
book's clients above them really defaulted 3, 5 and 10 times as often as the book did.
One ordinary tail value raises nothing; several strong, different signals raise red.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, Literal

from crm_risk.rating.model.industry import industry_group
from crm_risk.rating.model.ratios import Ratios
from crm_risk.rating.model.scorecard_model import FITTED_DIR

DEFAULT_RATIO_THRESHOLDS: Final = "RT-2027.2"
Severity = Literal["orange", "red"]
Level = Literal["none", "yellow", "orange", "red"]
Breach = Literal["above", "below"]


@dataclass(frozen=True)
class Rule:
    """One watched ratio: its signal code, family and the direction that is bad."""

    code: str
    ratio: str
    family: str
    breach: Breach


# The ratios watched, by family. Thresholds and evidence live in the fitted JSON.
RULES: Final[tuple[Rule, ...]] = (
    Rule("CURRENT_RATIO_LOW", "current_ratio", "liquidity", "below"),
    Rule("QUICK_RATIO_LOW", "quick_ratio", "liquidity", "below"),
    Rule("CASH_TO_SHORT_DEBT_LOW", "cash_to_short_debt", "liquidity", "below"),
    Rule("REFINANCING_GAP_HIGH", "refinancing_gap", "liquidity", "above"),
    Rule("DEBT_RATIO_HIGH", "debt_to_assets", "leverage", "above"),
    Rule("DEBT_TO_EBITDA_HIGH", "debt_to_ebitda", "leverage", "above"),
    Rule("NET_GEARING_HIGH", "net_gearing", "leverage", "above"),
    Rule("INTEREST_COVER_LOW", "interest_cover", "coverage", "below"),
    Rule("OCF_COVER_LOW", "ocf_to_liabilities", "cash_flow", "below"),
    Rule("ROA_LOW", "roa", "profitability", "below"),
    Rule("EBITDA_MARGIN_LOW", "ebitda_margin", "profitability", "below"),
    Rule("REVENUE_DECLINE", "revenue_growth", "growth", "below"),
    Rule("RECEIVABLE_DAYS_HIGH", "receivable_days", "working_capital", "above"),
    Rule("RECEIVABLE_DAYS_UP", "yoy.receivable_days", "working_capital", "above"),
    Rule("INVENTORY_DAYS_UP", "yoy.inventory_days", "working_capital", "above"),
)
# DOMAIN rules: two negative OCF years (cash flow family), three red lines (leverage).
OCF_NEGATIVE_TWO_YEARS: Final = Rule("OCF_NEGATIVE", "ocf_negative_years", "cash_flow", "above")
THREE_RED_LINES: Final = Rule("THREE_RED_LINES", "three_red_lines", "leverage", "above")
RED_LINE_GROUP: Final = "real_estate_development"


@dataclass(frozen=True)
class RatioSignal:
    """A ratio past its orange or red threshold, with the evidence that carries."""

    code: str
    severity: Severity
    ratio: str
    value: float
    threshold: float
    family: str
    evidence: float


@dataclass(frozen=True)
class RatioAssessment:
    """The signals of one statement, their combined evidence and the warning level."""

    signals: tuple[RatioSignal, ...]
    evidence: float
    level: Level
    version: str


@dataclass(frozen=True)
class WarningSet:
    """A fitted version: thresholds per cell, evidence per signal, level boundaries."""

    version: str
    thresholds: dict[str, dict[str, tuple[float, float]]]  # code -> cell -> (orange, red)
    evidence: dict[str, dict[str, float]]  # code -> severity -> log lift
    levels: dict[str, float]  # yellow / orange / red -> minimum combined evidence
    provenance: dict[str, Any]

    def cell_thresholds(self, code: str, group: str, size: str) -> tuple[float, float] | None:
        """Return (orange, red) for a peer group and size class, falling back to wider cells."""
        table = self.thresholds.get(code, {})
        for cell in (f"{group}|{size}", f"{group}|*", "*|*"):
            if cell in table:
                return table[cell]
        return None


@cache
def load_warning_set(version: str = DEFAULT_RATIO_THRESHOLDS) -> WarningSet:
    """Return the fitted warning set ``version`` from ``fitted/<version>.json``."""
    path = FITTED_DIR / f"{version}.json"
    if not path.is_file():
        msg = f"unknown ratio threshold version {version!r}"
        raise ValueError(msg)
    raw = json.loads(path.read_text(encoding="utf-8"))
    return WarningSet(
        version=raw["version"],
        thresholds={code: {cell: (float(v[0]), float(v[1])) for cell, v in cells.items()}
                    for code, cells in raw["thresholds"].items()},
        evidence={code: {k: float(v) for k, v in by.items()}
                  for code, by in raw["evidence"].items()},
        levels={k: float(v) for k, v in raw["levels"].items()},
        provenance=dict(raw.get("provenance", {})),
    )


def _past(value: float, limit: float, breach: Breach) -> bool:
    return value > limit if breach == "above" else value < limit


def red_lines_breached(ratios: Ratios) -> int:
    """Return how many of the three red lines a developer breaches (DOMAIN §9)."""
    checks: tuple[tuple[float | None, Breach, float], ...] = (
        (ratios.debt_ratio_ex_advances, "above", 0.70),
        (ratios.net_gearing, "above", 1.0),
        (ratios.cash_to_short_debt, "below", 1.0),
    )
    return sum(1 for value, breach, limit in checks
               if value is not None and not math.isnan(value) and _past(value, limit, breach))


def _domain_signals(ratios: Ratios, group: str) -> list[tuple[Rule, Severity, float, float]]:
    found: list[tuple[Rule, Severity, float, float]] = []
    if ratios.ocf_negative_years >= 2:
        found.append((OCF_NEGATIVE_TWO_YEARS, "red", float(ratios.ocf_negative_years), 1.0))
    if group == RED_LINE_GROUP:
        breached = red_lines_breached(ratios)
        if breached == 3:
            found.append((THREE_RED_LINES, "red", 3.0, 2.0))
        elif breached == 2:
            found.append((THREE_RED_LINES, "orange", 2.0, 1.0))
    return found


def raw_signals(ratios: Ratios, *, group: str, size: str, warnings: WarningSet
                ) -> list[tuple[Rule, Severity, float, float]]:
    """Return (rule, severity, value, threshold) of every threshold the ratios pass."""
    found = _domain_signals(ratios, group)
    for rule in RULES:
        value = ratios.value(rule.ratio)
        limits = warnings.cell_thresholds(rule.code, group, size)
        if value is None or math.isnan(value) or limits is None:
            continue
        orange, red = limits
        if _past(value, red, rule.breach):
            found.append((rule, "red", value, red))
        elif _past(value, orange, rule.breach):
            found.append((rule, "orange", value, orange))
    return found


def combined_evidence(signals: tuple[RatioSignal, ...]) -> float:
    """Return Σ weight_i · e_i over families' strongest evidence e_1 ≥ e_2 ≥ ..., weights
    1, 1/2, 1/4, ... (families overlap, so each further one adds less)."""
    strongest: dict[str, float] = {}
    for s in signals:
        strongest[s.family] = max(strongest.get(s.family, 0.0), s.evidence)
    ordered = sorted(strongest.values(), reverse=True)
    return sum(e * 0.5**i for i, e in enumerate(ordered))


def assess(
    ratios: Ratios, *, industry_code: str, size_class: str = "",
    version: str = DEFAULT_RATIO_THRESHOLDS,
) -> RatioAssessment:
    """Return the ratio signals of a statement and the warning level their evidence sets."""
    group = industry_group(industry_code) if industry_code else "*"
    return assess_with(ratios, group=group, size=size_class or "*",
                       warnings=load_warning_set(version))


def assess_with(ratios: Ratios, *, group: str, size: str, warnings: WarningSet
                ) -> RatioAssessment:
    """Return the assessment of ratios for a peer group and size class under a warning set."""
    signals = tuple(
        RatioSignal(rule.code, severity, rule.ratio, value, threshold, rule.family,
                    warnings.evidence.get(rule.code, {}).get(severity, 0.0))
        for rule, severity, value, threshold in raw_signals(
            ratios, group=group, size=size, warnings=warnings)
    )
    evidence = combined_evidence(signals)
    level: Level = "none"
    for name in ("yellow", "orange", "red"):
        if evidence >= warnings.levels[name]:
            level = name  # type: ignore[assignment]
    return RatioAssessment(signals=signals, evidence=evidence, level=level,
                           version=warnings.version)
