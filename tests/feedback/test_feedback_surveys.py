"""Tests for survey definitions, answer validation, versioning and event triggers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from crm_feedback.domain.surveys import (
    TRIGGERS,
    ChoiceOption,
    LocalizedText,
    Question,
    SurveyDefinition,
    fingerprint,
    revise,
    schedule_for_event,
    validate_answers,
    validate_definition,
)


def text(zh: str, en: str) -> LocalizedText:
    return LocalizedText(zh, en)


def options(count: int) -> tuple[ChoiceOption, ...]:
    return tuple(ChoiceOption(f"o{i}", text(f"选项{i}", f"Option {i}")) for i in range(count))


def make_survey() -> SurveyDefinition:
    return SurveyDefinition(
        survey_id="post_disbursement",
        version=1,
        title=text("放款后满意度调查", "Post-disbursement survey"),
        questions=(
            Question("recommend", "nps",
                     text("您向他人推荐我行的可能性？", "How likely to recommend?")),
            Question("satisfied", "csat", text("您对本次服务满意吗？", "How satisfied are you?")),
            Question("channel", "single_choice", text("您通过哪个渠道申请？", "Which channel?"),
                     options=options(3)),
            Question("topics", "multiple_choice", text("哪些方面需要改进？", "What to improve?"),
                     required=False, options=options(4)),
            Question("comment", "free_text", text("其他意见", "Other comments"), required=False),
        ),
    )


class TestValidateDefinition:
    def test_valid_definition_has_no_violations(self) -> None:
        """A well-formed bilingual survey passes."""
        assert validate_definition(make_survey()) == []

    def test_duplicate_question_ids_are_reported(self) -> None:
        """Two questions with one id are a violation on the second."""
        survey = make_survey()
        duplicate = replace(survey.questions[1], question_id="recommend")
        bad = replace(survey, questions=(survey.questions[0], duplicate))
        fields = [v.field for v in validate_definition(bad)]
        assert fields == ["questions[1].question_id"]

    def test_survey_needs_a_question(self) -> None:
        """An empty question list is rejected."""
        bad = replace(make_survey(), questions=())
        assert [v.field for v in validate_definition(bad)] == ["questions"]

    @pytest.mark.parametrize("count", [0, 1, 21])
    def test_choice_questions_need_two_to_twenty_options(self, count: int) -> None:
        """Choice questions with too few or too many options are rejected."""
        question = Question("q", "single_choice", text("问题", "Question"), options=options(count))
        bad = replace(make_survey(), questions=(question,))
        assert "questions[0].options" in [v.field for v in validate_definition(bad)]

    @pytest.mark.parametrize("count", [2, 20])
    def test_option_count_bounds_are_inclusive(self, count: int) -> None:
        """Exactly 2 and exactly 20 options are allowed."""
        question = Question("q", "multiple_choice", text("问题", "Q"), options=options(count))
        assert validate_definition(replace(make_survey(), questions=(question,))) == []

    def test_blank_and_overlong_texts_are_reported_per_locale(self) -> None:
        """A blank zh title and an overlong en option label are both named."""
        survey = make_survey()
        long_label = ChoiceOption("o1", text("选项", "x" * 201))
        question = replace(survey.questions[2], title=text("  ", "Channel"),
                           options=(options(1)[0], long_label))
        bad = replace(survey, questions=(question,))
        fields = {v.field for v in validate_definition(bad)}
        assert fields == {"questions[0].title.zh_cn", "questions[0].options[1].label.en"}

    def test_bad_ids_duplicate_options_and_stray_options(self) -> None:
        """Invalid ids, repeated option ids and options on a score question are reported."""
        repeated = (ChoiceOption("a", text("甲", "A")), ChoiceOption("a", text("乙", "B")))
        questions = (
            Question("bad id!", "nps", text("问", "Q"), options=repeated),
            Question("c", "single_choice", text("问", "Q"), options=repeated),
        )
        bad = replace(make_survey(), survey_id="", version=0, questions=questions)
        fields = {v.field for v in validate_definition(bad)}
        assert fields == {
            "survey_id",
            "version",
            "questions[0].question_id",
            "questions[0].options",
            "questions[1].options[1].option_id",
        }


class TestValidateAnswers:
    def test_complete_valid_answers_pass(self) -> None:
        """Answers in range with known options and short text pass."""
        answers = {"recommend": 0, "satisfied": 5, "channel": "o2", "topics": ["o0", "o3"],
                   "comment": "审批很快"}
        assert validate_answers(make_survey(), answers) == []

    def test_optional_questions_may_be_skipped(self) -> None:
        """Only required questions must be answered."""
        assert validate_answers(make_survey(), {"recommend": 10, "satisfied": 1,
                                                "channel": "o0"}) == []

    def test_required_unanswered_and_unknown_questions(self) -> None:
        """Missing required answers and unknown question ids are violations."""
        violations = validate_answers(make_survey(), {"recommend": None, "channel": " ",
                                                      "extra": 3})
        assert {v.field: v.description for v in violations} == {
            "answers.extra": "unknown question",
            "answers.recommend": "required question is not answered",
            "answers.satisfied": "required question is not answered",
            "answers.channel": "required question is not answered",
        }

    @pytest.mark.parametrize(
        ("question_id", "value"),
        [
            ("recommend", 11),
            ("recommend", -1),
            ("recommend", 7.5),
            ("recommend", True),
            ("satisfied", 0),
            ("satisfied", 6),
            ("satisfied", "5"),
            ("channel", "o9"),
            ("channel", ["o1"]),
            ("topics", ["o1", "o1"]),
            ("topics", ["o1", "zz"]),
            ("topics", "o1"),
            ("comment", "长" * 2001),
            ("comment", 42),
        ],
    )
    def test_out_of_range_or_malformed_answers(self, question_id: str, value: object) -> None:
        """Each malformed answer yields exactly one violation on its question."""
        answers: dict[str, object] = {"recommend": 9, "satisfied": 4, "channel": "o0"}
        answers[question_id] = value
        violations = validate_answers(make_survey(), answers)
        assert [v.field for v in violations] == [f"answers.{question_id}"]

    def test_free_text_limit_is_inclusive(self) -> None:
        """Exactly 2,000 characters of free text are accepted."""
        answers = {"recommend": 9, "satisfied": 4, "channel": "o0", "comment": "字" * 2000}
        assert validate_answers(make_survey(), answers) == []


class TestVersioning:
    def test_unchanged_revision_keeps_the_version(self) -> None:
        """Revising with identical content returns the same definition."""
        survey = make_survey()
        assert revise(survey, title=text("放款后满意度调查", "Post-disbursement survey")) is survey

    def test_changed_content_creates_next_version(self) -> None:
        """Changing a question bumps the version and the fingerprint."""
        survey = make_survey()
        changed = revise(survey, questions=survey.questions[:2])
        assert changed.version == 2
        assert changed.questions == survey.questions[:2]
        assert fingerprint(changed) != fingerprint(survey)
        assert survey.version == 1  # the pinned version is untouched

    def test_fingerprint_ignores_version_only(self) -> None:
        """Two versions with the same content have the same fingerprint."""
        survey = make_survey()
        assert fingerprint(replace(survey, version=7)) == fingerprint(survey)
        retitled = replace(survey, title=text("新标题", "New title"))
        assert fingerprint(retitled) != fingerprint(survey)


class TestTriggers:
    def test_disbursement_schedules_thirty_days_later(self) -> None:
        """loan_disbursed schedules the survey 30 days after the event."""
        at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
        assert schedule_for_event("loan_disbursed", at) == at + timedelta(days=30)

    def test_completion_and_warning_offsets(self) -> None:
        """loan_completed is immediate; warning_resolved waits 3 days."""
        at = datetime(2026, 3, 1, tzinfo=UTC)
        assert schedule_for_event("loan_completed", at) == at
        assert schedule_for_event("warning_resolved", at) == at + timedelta(days=3)
        assert TRIGGERS["warning_resolved"].survey_id == "warning_resolution"

    def test_unknown_event_schedules_nothing(self) -> None:
        """An event without a trigger returns None."""
        assert schedule_for_event("rating_changed", datetime(2026, 1, 1, tzinfo=UTC)) is None

    def test_naive_time_is_rejected(self) -> None:
        """A naive datetime raises instead of guessing a zone."""
        with pytest.raises(ValueError, match="timezone-aware"):
            schedule_for_event("loan_disbursed", datetime(2026, 1, 1))
