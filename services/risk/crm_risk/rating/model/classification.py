"""Five-category loan classification (五级分类, 2023 NFRA/PBOC order 〔2023〕1号, DOMAIN §4).

Each objective rule sets a floor; the worst floor wins. Every rule that fired is kept
as a ``Trigger`` so that the classification can be explained and audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal, get_args

Category = Literal["normal", "special_mention", "substandard", "doubtful", "loss"]
CATEGORIES: Final[tuple[Category, ...]] = get_args(Category)
NPL_CATEGORIES: Final[frozenset[str]] = frozenset({"substandard", "doubtful", "loss"})

# Days-past-due floors, checked worst first: DPD strictly above the bound triggers.
TECHNICAL_DELAY_MAX_DAYS: Final = 7
_DPD_FLOORS: Final[tuple[tuple[int, Category], ...]] = (
    (360, "loss"), (270, "doubtful"), (90, "substandard"), (0, "special_mention"),
)
CROSS_BANK_90DPD_SHARE: Final = 0.20
ECL_DOUBTFUL: Final = 0.50
ECL_LOSS: Final = 0.90


@dataclass(frozen=True)
class FacilityFacts:
    """What is known about one facility and its debtor at classification time.

    ``days_past_due`` is the maximum over principal and interest.
    ``share_of_debt_over_90dpd_all_banks`` and ``ecl_ratio`` are fractions (0-1).
    ``restructure_observation_failed`` means an NPL trigger was met during the
    restructuring observation period.
    """

    days_past_due: int = 0
    technical_delay: bool = False
    restructured: bool = False
    restructure_observation_failed: bool = False
    previous_class: Category | None = None
    cross_default_npl_elsewhere: bool = False
    share_of_debt_over_90dpd_all_banks: float = 0.0
    unauthorised_purpose_change: bool = False
    new_loan_repays_old: bool = False
    borrower_finances_normal: bool = False
    credit_impaired: bool = False
    ecl_ratio: float = 0.0
    evades_debt: bool = False
    external_rating_sharply_cut: bool = False


@dataclass(frozen=True)
class Trigger:
    """One rule that fired and the category floor it sets."""

    code: str
    category: Category
    reason: str


@dataclass(frozen=True)
class Classification:
    """The resulting category and every trigger behind it, worst first."""

    category: Category
    triggers: list[Trigger] = field(default_factory=list)


def category_rank(category: str) -> int:
    """Return 0 for normal up to 4 for loss; raise ValueError for an unknown category."""
    try:
        return CATEGORIES.index(category)  # type: ignore[arg-type]
    except ValueError:
        msg = f"unknown five-category class {category!r}"
        raise ValueError(msg) from None


def is_npl(category: str) -> bool:
    """Return True for non-performing categories (substandard, doubtful, loss)."""
    category_rank(category)
    return category in NPL_CATEGORIES


def _validate(f: FacilityFacts) -> None:
    """Reject facts that no real facility can have."""
    if f.days_past_due < 0:
        msg = "days_past_due must not be negative"
        raise ValueError(msg)
    for name in ("share_of_debt_over_90dpd_all_banks", "ecl_ratio"):
        value = getattr(f, name)
        if not 0.0 <= value <= 1.0:
            msg = f"{name} must be a fraction between 0 and 1, got {value}"
            raise ValueError(msg)
    if f.previous_class is not None:
        category_rank(f.previous_class)


def _dpd_trigger(f: FacilityFacts) -> Trigger | None:
    """Return the worst days-past-due floor, allowing short technical delays."""
    dpd = f.days_past_due
    if dpd == 0 or (f.technical_delay and dpd <= TECHNICAL_DELAY_MAX_DAYS):
        return None
    for bound, category in _DPD_FLOORS:
        if dpd > bound:
            return Trigger(f"DPD_OVER_{bound}", category, f"{dpd} days past due (> {bound})")
    return None  # pragma: no cover - dpd > 0 always meets the last floor


def _restructure_triggers(f: FacilityFacts) -> list[Trigger]:
    """Apply the restructuring floors and the failed-observation downgrade."""
    if not f.restructured:
        return []
    previous: Category = f.previous_class or "normal"
    if previous in NPL_CATEGORIES:
        found = [Trigger("RESTRUCTURED_FROM_NPL", "substandard",
                         f"restructured while classified {previous}")]
    else:
        found = [Trigger("RESTRUCTURED", "special_mention", "restructured asset")]
    if f.restructure_observation_failed:
        # An NPL trigger in the observation period downgrades one step from where the
        # asset stood, and never to better than substandard.
        one_down = CATEGORIES[min(category_rank(previous) + 1, len(CATEGORIES) - 1)]
        floor = max(one_down, "substandard", key=category_rank)
        found.append(Trigger(
            "RESTRUCTURE_OBSERVATION_FAILED", floor,
            f"NPL trigger met during the observation period after {previous}",
        ))
    return found


def _flag_triggers(f: FacilityFacts) -> list[Trigger]:
    """Return the triggers that come straight from flags and fractions."""
    found: list[Trigger] = []
    if f.external_rating_sharply_cut:
        found.append(Trigger("EXTERNAL_RATING_CUT", "special_mention",
                             "external rating sharply cut"))
    if f.new_loan_repays_old and not f.borrower_finances_normal:
        found.append(Trigger("NEW_LOAN_REPAYS_OLD", "special_mention",
                             "new loan repays old while the debtor's finances are not normal"))
    if f.cross_default_npl_elsewhere:
        found.append(Trigger("CROSS_DEFAULT_NPL", "special_mention",
                             "the debtor has an NPL at this or another bank"))
    if f.unauthorised_purpose_change:
        found.append(Trigger("PURPOSE_CHANGED", "special_mention",
                             "loan purpose changed without authorisation"))
    if f.share_of_debt_over_90dpd_all_banks > CROSS_BANK_90DPD_SHARE:
        found.append(Trigger(
            "CROSS_BANK_90DPD_SHARE", "substandard",
            f"{f.share_of_debt_over_90dpd_all_banks:.0%} of the debtor's bank debt is over "
            f"90 days past due (> {CROSS_BANK_90DPD_SHARE:.0%})",
        ))
    if f.credit_impaired:
        if f.ecl_ratio >= ECL_LOSS:
            category: Category = "loss"
        elif f.ecl_ratio >= ECL_DOUBTFUL:
            category = "doubtful"
        else:
            category = "substandard"
        found.append(Trigger("CREDIT_IMPAIRED", category,
                             f"credit-impaired with ECL at {f.ecl_ratio:.0%} of book value"))
    if f.evades_debt:
        found.append(Trigger("EVADES_DEBT", "doubtful", "the debtor evades bank debt"))
    return found


def classify(f: FacilityFacts) -> Classification:
    """Classify a facility: the worst floor among all triggered rules, else normal."""
    _validate(f)
    triggers = _flag_triggers(f) + _restructure_triggers(f)
    dpd = _dpd_trigger(f)
    if dpd is not None:
        triggers.append(dpd)
    # Stable sort: worst category first, then rule order for equal categories.
    triggers.sort(key=lambda t: -category_rank(t.category))
    category: Category = triggers[0].category if triggers else "normal"
    return Classification(category=category, triggers=triggers)
