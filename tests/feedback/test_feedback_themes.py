"""Tests for keyword themes and risk-signal detection on zh and en texts."""

from __future__ import annotations

import pytest

from crm_feedback.domain.themes import THEMES, ThemeCount, risk_signals, theme_counts, themes_of


class TestThemesOf:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("审批太慢，放款慢，利率也高", ["approval_speed", "pricing"]),
            ("客户经理服务态度好，响应及时", ["rm_service"]),
            ("手机银行APP经常登录失败", ["digital_channels"]),
            ("需要准备的资料太多，手续繁琐", ["documentation"]),
            ("工期延误两个月", ["project_progress"]),
            ("最近资金紧张，现金流压力大", ["payment_difficulty"]),
            ("The approval took too long and the fees are high", ["approval_speed", "pricing"]),
            ("Our RM is very responsive", ["rm_service"]),
            ("The online banking portal is slow", ["digital_channels"]),
            ("Too much paperwork and too many forms", ["documentation"]),
            ("Construction is behind schedule", ["project_progress"]),
            ("Cash flow is tight this quarter", ["payment_difficulty"]),
        ],
    )
    def test_zh_and_en_texts_map_to_their_themes(self, text: str, expected: list[str]) -> None:
        """Each sample text yields exactly its themes, in lexicon order."""
        assert themes_of(text) == expected

    def test_fee_is_not_paperwork(self) -> None:
        """手续费 is pricing only, although it contains 手续."""
        assert themes_of("手续费太高") == ["pricing"]

    def test_repayment_extension_is_not_project_delay(self) -> None:
        """延期还款 is a payment topic, not project progress."""
        assert themes_of("申请延期还款") == ["payment_difficulty"]

    def test_english_keywords_match_whole_words_only(self) -> None:
        """'app' inside 'approval' and 'rate' inside 'accurate' do not match."""
        assert themes_of("accurate and separate approvals") == []
        assert themes_of("happy with everything") == []

    def test_case_and_plurals(self) -> None:
        """Matching ignores case and accepts plural endings."""
        assert themes_of("FEES and RATES went up") == ["pricing"]
        assert themes_of("Several DELAYS on site") == ["project_progress"]

    def test_text_without_themes(self) -> None:
        """A text with no keyword has no theme."""
        assert themes_of("一切顺利 / all good") == []


class TestThemeCounts:
    def test_counts_sorted_with_first_example(self) -> None:
        """Themes are counted per text, most frequent first, with the first example."""
        texts = [
            "利率偏高",
            "The fee is too high and approval is too slow",
            "审批太慢",
            "Rates are fine",
            "没有意见",
        ]
        assert theme_counts(texts) == [
            ThemeCount("pricing", 3, "利率偏高"),
            ThemeCount("approval_speed", 2, "The fee is too high and approval is too slow"),
        ]

    def test_ties_follow_lexicon_order_and_empty_input(self) -> None:
        """Equal counts keep lexicon order; no texts give no themes."""
        counts = theme_counts(["网银很难用", "材料太多"])
        assert [c.theme for c in counts] == ["digital_channels", "documentation"]
        assert THEMES.index("digital_channels") < THEMES.index("documentation")
        assert theme_counts([]) == []

    def test_examples_are_trimmed(self) -> None:
        """Examples are cut to 200 characters."""
        (count,) = theme_counts(["利率" + "很" * 500])
        assert len(count.example) == 200


def codes(text: str, **structured: object) -> dict[str, str]:
    return {s.code: s.severity for s in risk_signals(text, structured=structured)}


class TestRiskSignalsText:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("工程进度滞后，公司资金链断裂",
             {"PROJECT_DELAYED": "medium", "PAYMENT_DIFFICULTY": "high"}),
            ("实际控制人失联，工厂已停产",
             {"KEY_STAFF_LEFT": "high", "PRODUCTION_HALTED": "high"}),
            ("财务总监上月离职，公司被供应商起诉",
             {"KEY_STAFF_LEFT": "medium", "LITIGATION": "high"}),
            ("工人不足导致停工", {"PRODUCTION_HALTED": "high"}),
            ("申请延期还款", {"PAYMENT_DIFFICULTY": "medium"}),
            ("The CFO resigned last month and the company was sued by a supplier.",
             {"KEY_STAFF_LEFT": "medium", "LITIGATION": "high"}),
            ("Construction is behind schedule and cash flow problems are growing.",
             {"PROJECT_DELAYED": "medium", "PAYMENT_DIFFICULTY": "medium"}),
            ("Production halted in May; a legal dispute with the contractor continues.",
             {"PRODUCTION_HALTED": "high", "LITIGATION": "medium"}),
        ],
    )
    def test_keywords_raise_signals(self, text: str, expected: dict[str, str]) -> None:
        """zh and en texts raise exactly the expected codes and severities."""
        assert codes(text) == expected

    @pytest.mark.parametrize(
        "text",
        [
            "项目没有出现延期，一切正常",
            "目前未停产，也没有逾期",
            "No delays so far, production is normal.",
            "Construction hasn't been delayed.",
            "客户经理离职了，新经理还不熟悉",
            "Cash flow is healthy and the RM is helpful.",
        ],
    )
    def test_negated_or_benign_texts_raise_nothing(self, text: str) -> None:
        """Negated keywords and a bank RM leaving are not signals."""
        assert risk_signals(text, structured={}) == []

    def test_evidence_quotes_the_original_text(self) -> None:
        """The evidence is a snippet of the original (not lower-cased) text."""
        (signal,) = risk_signals("Straße gebaut. Company was SUED last week.", structured={})
        assert signal.code == "LITIGATION"
        assert "SUED" in signal.evidence


class TestRiskSignalsStructured:
    def test_progress_gap_over_twenty_points(self) -> None:
        """30 points behind plan is a medium delay; 45 points is high; 20 is nothing."""
        assert codes("", progress_pct=40, planned_progress_pct=70) == {"PROJECT_DELAYED": "medium"}
        assert codes("", progress_pct=25, planned_progress_pct=70) == {"PROJECT_DELAYED": "high"}
        assert codes("", progress_pct=50, planned_progress_pct=70) == {}

    def test_all_structured_fields(self) -> None:
        """Every documented field maps to its code, unknown keys are ignored."""
        signals = risk_signals(
            "",
            structured={
                "missed_milestones": ["foundation"],
                "production_status": "reduced",
                "payment_overdue_days": 95,
                "key_staff_departed": ["CFO"],
                "litigation_pending": True,
                "controller_unreachable": False,
                "visit_weather": "rain",
            },
        )
        assert [(s.code, s.severity) for s in signals] == [
            ("PROJECT_DELAYED", "medium"),
            ("PAYMENT_DIFFICULTY", "high"),
            ("KEY_STAFF_LEFT", "medium"),
            ("PRODUCTION_HALTED", "medium"),
            ("LITIGATION", "high"),
        ]
        assert signals[0].evidence == "missed_milestones: foundation"

    def test_text_and_fields_merge_to_highest_severity(self) -> None:
        """One code from two sources keeps the highest severity and both evidences."""
        (signal,) = risk_signals("工期延误", structured={"missed_milestones": 2})
        assert signal.code == "PROJECT_DELAYED" and signal.severity == "high"
        assert "工期延误" in signal.evidence and "missed_milestones: 2" in signal.evidence

    def test_wrong_field_types_raise(self) -> None:
        """A non-number progress or non-bool flag is a caller error."""
        with pytest.raises(ValueError, match="progress_pct"):
            risk_signals("", structured={"progress_pct": "40", "planned_progress_pct": 70})
        with pytest.raises(ValueError, match="litigation_pending"):
            risk_signals("", structured={"litigation_pending": "yes"})
