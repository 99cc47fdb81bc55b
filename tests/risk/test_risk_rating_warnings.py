"""Tests for ratio warnings: book-relative thresholds and levels set by evidence."""

from __future__ import annotations

import pytest

from crm_risk.rating.model.ratio_warnings import (
    RULES,
    WarningSet,
    assess,
    assess_with,
    load_warning_set,
)
from crm_risk.rating.model.ratios import Ratios

# A small hand-made set: thresholds for two cells, evidence per signal, level boundaries.
SET = WarningSet(
    version="RT-test",
    thresholds={
        "CURRENT_RATIO_LOW": {"manufacturing|small": (0.8, 0.5), "*|*": (1.0, 0.7)},
        "DEBT_RATIO_HIGH": {"*|*": (0.8, 0.9)},
        "INTEREST_COVER_LOW": {"*|*": (0.5, -1.0)},
        "RECEIVABLE_DAYS_HIGH": {"*|*": (200.0, 300.0)},
    },
    evidence={
        "CURRENT_RATIO_LOW": {"orange": 1.0, "red": 1.6},
        "QUICK_RATIO_LOW": {"orange": 1.0, "red": 1.4},
        "DEBT_RATIO_HIGH": {"orange": 1.2, "red": 1.8},
        "INTEREST_COVER_LOW": {"orange": 1.1, "red": 1.5},
        "RECEIVABLE_DAYS_HIGH": {"orange": 0.3, "red": 0.5},
        "OCF_NEGATIVE": {"red": 1.2},
        "THREE_RED_LINES": {"orange": 0.7, "red": 1.0},
    },
    levels={"yellow": 1.5, "orange": 2.2, "red": 3.0},
    provenance={},
)


def judge(ratios: Ratios, group: str = "manufacturing", size: str = "small"):  # type: ignore[no-untyped-def]
    return assess_with(ratios, group=group, size=size, warnings=SET)


class TestLevels:
    def test_healthy_ratios_raise_nothing(self) -> None:
        """No threshold passed: no signal, level none."""
        found = judge(Ratios(current_ratio=1.5, debt_to_assets=0.5, interest_cover=6.0))
        assert found.signals == () and found.level == "none"

    def test_one_ordinary_tail_value_raises_no_warning(self) -> None:
        """A receivable-days signal is real but weak evidence: listed, level none."""
        found = judge(Ratios(receivable_days=250.0))
        assert [s.code for s in found.signals] == ["RECEIVABLE_DAYS_HIGH"]
        assert found.level == "none"

    def test_one_strong_signal_is_yellow(self) -> None:
        """A red-severity current ratio carries evidence 1.6: yellow."""
        found = judge(Ratios(current_ratio=0.4))
        assert (found.signals[0].severity, found.level) == ("red", "yellow")

    def test_signals_of_one_family_do_not_add_up(self) -> None:
        """Current ratio and quick ratio both say 'illiquid': the strongest counts."""
        both = judge(Ratios(current_ratio=0.4, quick_ratio=0.1))
        assert both.evidence == pytest.approx(1.6)

    def test_different_families_add_up_with_diminishing_weight(self) -> None:
        """Liquidity 1.6, leverage 1.8, coverage 1.5: 1.8 + 1.6/2 + 1.5/4 = 2.975 → orange;
        with two negative cash-flow years as well, red."""
        found = judge(Ratios(current_ratio=0.4, debt_to_assets=0.95, interest_cover=-2.0))
        assert found.evidence == pytest.approx(2.975)
        assert found.level == "orange"
        worse = judge(Ratios(current_ratio=0.4, debt_to_assets=0.95, interest_cover=-2.0,
                             ocf_negative_years=2))
        assert worse.level == "red"

    def test_thresholds_fall_back_from_cell_to_group_to_book(self) -> None:
        """A small manufacturer is judged in its cell; a large one against the whole book."""
        assert judge(Ratios(current_ratio=0.9)).signals == ()
        assert judge(Ratios(current_ratio=0.9), size="large").signals[0].severity == "orange"

    def test_three_red_lines_apply_to_developers_only(self) -> None:
        """All three lines breached is a red signal for a developer, nothing for others."""
        ratios = Ratios(debt_ratio_ex_advances=0.8, net_gearing=1.5, cash_to_short_debt=0.5)
        developer = judge(ratios, group="real_estate_development")
        assert [(s.code, s.severity) for s in developer.signals] == [("THREE_RED_LINES", "red")]
        assert judge(ratios).signals == ()


class TestFittedSet:
    def test_fitted_set_is_ordered_and_complete(self) -> None:
        """RT-2027.2: levels rise yellow < orange ≤ red; red thresholds are more extreme
        than orange ones in every cell; every rule has a book-wide cell."""
        fitted = load_warning_set("RT-2027.2")
        assert fitted.levels["yellow"] < fitted.levels["orange"] <= fitted.levels["red"]
        for rule in RULES:
            cells = fitted.thresholds[rule.code]
            assert "*|*" in cells
            for orange, red in cells.values():
                assert (red <= orange) if rule.breach == "below" else (red >= orange)

    def test_assess_reads_the_client_industry(self) -> None:
        """The public entry point maps an industry code to its peer group."""
        found = assess(Ratios(current_ratio=1.5), industry_code="C3411", size_class="small")
        assert found.version == "RT-2027.2" and found.level == "none"
