"""The factors a scorecard fit may choose from, with the direction economics dictates.

Policy factors are ones credit policy wants in every rating whatever one development
sample says: interest cover (every credit memo shows it; DOMAIN §9), the operating cash
flow margin (cash repays loans), size, and the revenue and leverage trends over the
statements (the issue asks for them). The fit weighs them like any other factor; only
when the evidence would drop one (a wrong sign, or z below the bar once the other factors
are settled) is it kept with the small fixed coefficient POLICY_COEFFICIENT instead.

Each candidate names a feature of ``crm_risk.rating.model.features`` and the direction in which
risk rises. Peer-relative factors are measured against the client's peer group (value
minus the group's median, over its inter-quartile spread), so a developer's leverage is
judged against developers. ``missing`` says what an absent value means: its own bin, or
neutral (WoE 0) where absence only means a short history, which the age factor scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from crm_sim.rating.binning import Direction


@dataclass(frozen=True)
class Candidate:
    """A factor the fit may keep: its code, feature, dimension, label and binning rules."""

    code: str
    feature: str
    dimension: str
    label: str
    direction: Direction | None  # None for a categorical factor
    peer_relative: bool = False
    missing: Literal["bin", "neutral"] = "bin"
    fixed_cuts: tuple[float, ...] = ()  # expert cut points instead of quantiles
    unit: str = ""  # appended to bin labels, e.g. "years"
    startup_bins: bool = False  # label bins that end at 3 years or less as start-up
    # A policy factor (see the module's note): kept with this coefficient if the fit drops it.
    policy_coefficient: float | None = None


STARTUP_LABEL: Final = "start-up"
# Small on purpose: about a third of a typical fitted coefficient, so a policy factor moves
# the PD by a factor of e^(0.1 · its WoE range), 1.1-1.5, from its best bin to its worst.
POLICY_COEFFICIENT: Final = 0.1

CANDIDATES: Final[tuple[Candidate, ...]] = (
    Candidate("CF_OCF_TO_LIABILITIES", "ocf_to_liabilities", "cash_flow",
              "operating cash flow / total liabilities", "lower"),
    Candidate("CF_OCF_MARGIN", "ocf_margin_avg", "cash_flow",
              "operating cash flow / revenue, average of up to 3 years", "lower",
              peer_relative=True, policy_coefficient=POLICY_COEFFICIENT),
    Candidate("CF_OCF_NEGATIVE_YEARS", "ocf_negative_years", "cash_flow",
              "years of negative operating cash flow out of up to 3", "higher"),
    Candidate("LQ_REFINANCING_GAP", "refinancing_gap", "liquidity",
              "(short-term debt + notes payable + current portion − cash) / assets", "higher"),
    Candidate("LQ_CASH_TO_SHORT_DEBT", "cash_to_short_debt", "liquidity",
              "cash / short-term debt incl. notes payable", "lower"),
    Candidate("LQ_CURRENT_RATIO", "current_ratio", "liquidity", "current ratio vs peers",
              "lower", peer_relative=True),
    Candidate("LQ_QUICK_RATIO", "quick_ratio", "liquidity", "quick ratio vs peers", "lower",
              peer_relative=True),
    Candidate("LV_DEBT_RATIO", "debt_to_assets", "leverage", "liabilities / assets vs peers",
              "higher", peer_relative=True),
    Candidate("LV_DEBT_TO_EBITDA", "debt_to_ebitda", "leverage",
              "interest-bearing debt / EBITDA", "higher"),
    Candidate("LV_SHAREHOLDER_LOANS", "shareholder_loans_to_assets", "leverage",
              "shareholder loans / assets", "higher"),
    Candidate("CV_INTEREST_COVER", "interest_cover", "coverage",
              "EBIT / (interest expensed + capitalised)", "lower",
              policy_coefficient=POLICY_COEFFICIENT),
    Candidate("PR_ROA", "roa", "profitability", "return on assets vs peers", "lower",
              peer_relative=True),
    Candidate("PR_EBITDA_MARGIN", "ebitda_margin", "profitability", "EBITDA margin vs peers",
              "lower", peer_relative=True),
    Candidate("PR_IMPAIRMENTS", "impairment_to_assets", "profitability",
              "impairment losses / assets", "higher"),
    Candidate("SZ_REVENUE", "log_revenue", "profile", "revenue (log) vs peers", "lower",
              peer_relative=True),
    Candidate("SZ_ASSETS", "log_assets", "profile", "total assets (log)", "lower",
              policy_coefficient=POLICY_COEFFICIENT),
    Candidate("SZ_SME_CLASS", "size_class", "profile", "MIIT size class", None),
    Candidate("AG_FIRM_AGE", "firm_age", "profile", "firm age in years", "lower",
              fixed_cuts=(1.0, 3.0, 6.0, 10.0), unit="years", startup_bins=True),
    Candidate("TR_REVENUE", "revenue_trend", "trend",
              "revenue growth a year over up to 3 years (firms of 5 years or more)", "lower",
              missing="neutral", policy_coefficient=POLICY_COEFFICIENT),
    Candidate("TR_LEVERAGE", "leverage_trend", "trend", "change of debt ratio, up to 3 years",
              "higher", missing="neutral", policy_coefficient=POLICY_COEFFICIENT),
    Candidate("TR_MARGIN", "margin_trend", "trend", "EBITDA margin vs earlier years",
              "lower", missing="neutral"),
    Candidate("TR_OCF", "ocf_trend", "trend", "operating cash flow / assets vs earlier years",
              "lower", missing="neutral"),
    Candidate("WC_RECEIVABLE_DAYS", "receivable_days", "working_capital",
              "receivable days vs peers", "higher", peer_relative=True),
    Candidate("OP_AUDIT", "audit", "profile", "audit opinion", None),
    Candidate("IN_PEER_GROUP", "industry_group", "industry", "peer group", None),
)
