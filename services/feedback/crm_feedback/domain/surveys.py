"""Survey definitions, answer validation and the loan events that trigger surveys.

A definition is immutable and versioned: any change to its content produces a new
version through :func:`revise`, and a dispatch pins ``(survey_id, version)`` so that an
answer is always validated against the exact questions the client saw. Titles and option
labels carry both zh-CN and en text.

Question kinds and their answer values:

- ``nps``: int 0..10; ``csat``: int 1..5;
- ``single_choice``: one option id (str); ``multiple_choice``: a list of distinct option ids;
- ``free_text``: a str of at most 2,000 characters.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final, Literal, get_args

from crm_feedback.domain.validation import FieldViolation

QuestionKind = Literal["nps", "csat", "single_choice", "multiple_choice", "free_text"]
QUESTION_KINDS: Final = frozenset(get_args(QuestionKind))
CHOICE_KINDS: Final = frozenset({"single_choice", "multiple_choice"})

MIN_OPTIONS: Final = 2
MAX_OPTIONS: Final = 20
MAX_QUESTIONS: Final = 50
MAX_SURVEY_TITLE_CHARS: Final = 200
MAX_QUESTION_TITLE_CHARS: Final = 500
MAX_OPTION_LABEL_CHARS: Final = 200
MAX_FREE_TEXT_CHARS: Final = 2_000
SCORE_RANGES: Final[Mapping[str, tuple[int, int]]] = MappingProxyType(
    {"nps": (0, 10), "csat": (1, 5)}
)

_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,63}\Z")
_ID_RULE: Final = "must be 1-64 characters of letters, digits, '_' or '-', starting alphanumeric"


@dataclass(frozen=True, slots=True)
class LocalizedText:
    """A text in both locales the bank serves."""

    zh_cn: str
    en: str


@dataclass(frozen=True, slots=True)
class ChoiceOption:
    """One option of a choice question; ``option_id`` is what an answer refers to."""

    option_id: str
    label: LocalizedText


@dataclass(frozen=True, slots=True)
class Question:
    """One question; ``options`` is used only by the choice kinds."""

    question_id: str
    kind: QuestionKind
    title: LocalizedText
    required: bool = True
    options: tuple[ChoiceOption, ...] = ()


@dataclass(frozen=True, slots=True)
class SurveyDefinition:
    """One version of a survey; ``version`` starts at 1 and only :func:`revise` raises it."""

    survey_id: str
    version: int
    title: LocalizedText
    questions: tuple[Question, ...]


def fingerprint(defn: SurveyDefinition) -> str:
    """Return a SHA-256 hex digest of the definition's content, ignoring its version."""
    content = asdict(defn)
    del content["version"]
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def revise(
    defn: SurveyDefinition,
    *,
    title: LocalizedText | None = None,
    questions: tuple[Question, ...] | None = None,
) -> SurveyDefinition:
    """Return the next version with the given changes, or ``defn`` itself if nothing changed."""
    candidate = replace(
        defn,
        title=defn.title if title is None else title,
        questions=defn.questions if questions is None else questions,
    )
    if fingerprint(candidate) == fingerprint(defn):
        return defn
    return replace(candidate, version=defn.version + 1)


def _check_text(
    violations: list[FieldViolation], path: str, text: LocalizedText, limit: int
) -> None:
    """Append violations for a localized text that is blank or longer than ``limit``."""
    for locale, value in (("zh_cn", text.zh_cn), ("en", text.en)):
        if not value.strip():
            violations.append(FieldViolation(f"{path}.{locale}", "must not be blank"))
        elif len(value) > limit:
            violations.append(
                FieldViolation(f"{path}.{locale}", f"must be at most {limit} characters")
            )


def _check_question(violations: list[FieldViolation], path: str, question: Question) -> None:
    """Append violations for one question's id, kind, title and options."""
    if not _ID_RE.match(question.question_id):
        violations.append(FieldViolation(f"{path}.question_id", _ID_RULE))
    if question.kind not in QUESTION_KINDS:
        violations.append(
            FieldViolation(f"{path}.kind", f"must be one of {sorted(QUESTION_KINDS)}")
        )
    _check_text(violations, f"{path}.title", question.title, MAX_QUESTION_TITLE_CHARS)
    if question.kind in CHOICE_KINDS:
        if not MIN_OPTIONS <= len(question.options) <= MAX_OPTIONS:
            violations.append(
                FieldViolation(
                    f"{path}.options", f"must have {MIN_OPTIONS}-{MAX_OPTIONS} options"
                )
            )
        seen: set[str] = set()
        for index, option in enumerate(question.options):
            option_path = f"{path}.options[{index}]"
            if not _ID_RE.match(option.option_id):
                violations.append(FieldViolation(f"{option_path}.option_id", _ID_RULE))
            elif option.option_id in seen:
                violations.append(FieldViolation(f"{option_path}.option_id", "duplicate id"))
            seen.add(option.option_id)
            _check_text(violations, f"{option_path}.label", option.label, MAX_OPTION_LABEL_CHARS)
    elif question.options:
        violations.append(FieldViolation(f"{path}.options", "only choice questions have options"))


def validate_definition(defn: SurveyDefinition) -> list[FieldViolation]:
    """Return every problem with a survey definition (empty when it is valid)."""
    violations: list[FieldViolation] = []
    if not _ID_RE.match(defn.survey_id):
        violations.append(FieldViolation("survey_id", _ID_RULE))
    if defn.version < 1:
        violations.append(FieldViolation("version", "must be at least 1"))
    _check_text(violations, "title", defn.title, MAX_SURVEY_TITLE_CHARS)
    if not defn.questions:
        violations.append(FieldViolation("questions", "must have at least one question"))
    elif len(defn.questions) > MAX_QUESTIONS:
        violations.append(
            FieldViolation("questions", f"must have at most {MAX_QUESTIONS} questions")
        )
    seen: set[str] = set()
    for index, question in enumerate(defn.questions):
        if question.question_id in seen:
            violations.append(
                FieldViolation(f"questions[{index}].question_id", "duplicate question id")
            )
        seen.add(question.question_id)
        _check_question(violations, f"questions[{index}]", question)
    return violations


def _is_unanswered(value: object) -> bool:
    """Tell whether a value counts as "no answer" (None, blank text or empty selection)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | tuple) and not value


def _score_problem(question: Question, value: object) -> str | None:
    """Return why ``value`` is not a score in the question's range, or None."""
    low, high = SCORE_RANGES[question.kind]
    # bool is an int subclass; True must not pass as a score of 1.
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be an integer {low}-{high}"
    return None if low <= value <= high else f"must be between {low} and {high}"


def _single_choice_problem(question: Question, value: object) -> str | None:
    """Return why ``value`` is not one of the question's option ids, or None."""
    if not isinstance(value, str):
        return "must be one option id"
    option_ids = {option.option_id for option in question.options}
    return None if value in option_ids else f"unknown option id {value!r}"


def _multiple_choice_problem(question: Question, value: object) -> str | None:
    """Return why ``value`` is not a list of distinct option ids, or None."""
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        return "must be a list of option ids"
    option_ids = {option.option_id for option in question.options}
    unknown = sorted(str(v) for v in value if v not in option_ids)
    if unknown:
        return f"unknown option ids {unknown}"
    return None if len(set(value)) == len(value) else "option ids must not repeat"


def _free_text_problem(_question: Question, value: object) -> str | None:
    """Return why ``value`` is not acceptable free text, or None."""
    if not isinstance(value, str):
        return "must be text"
    if len(value) > MAX_FREE_TEXT_CHARS:
        return f"must be at most {MAX_FREE_TEXT_CHARS} characters"
    return None


_ANSWER_CHECKS: Final[Mapping[str, Callable[[Question, object], str | None]]] = (
    MappingProxyType(
        {
            "nps": _score_problem,
            "csat": _score_problem,
            "single_choice": _single_choice_problem,
            "multiple_choice": _multiple_choice_problem,
            "free_text": _free_text_problem,
        }
    )
)


def validate_answers(
    defn: SurveyDefinition, answers: Mapping[str, object]
) -> list[FieldViolation]:
    """Return every problem with answers to the pinned definition (empty when valid).

    ``answers`` maps question id to value. Unknown question ids are violations; a
    required question must have a non-empty answer; an optional one may be absent/None.
    """
    violations: list[FieldViolation] = []
    questions = {question.question_id: question for question in defn.questions}
    for question_id in sorted(set(answers) - set(questions)):
        violations.append(FieldViolation(f"answers.{question_id}", "unknown question"))
    for question in defn.questions:
        path = f"answers.{question.question_id}"
        value = answers.get(question.question_id)
        if _is_unanswered(value):
            if question.required:
                violations.append(FieldViolation(path, "required question is not answered"))
            continue
        check = _ANSWER_CHECKS.get(question.kind)
        # A definition that failed validate_definition must not crash answer checks.
        problem = "question has an unknown kind" if check is None else check(question, value)
        if problem is not None:
            violations.append(FieldViolation(path, problem))
    return violations


@dataclass(frozen=True, slots=True)
class Trigger:
    """A loan event that schedules a survey ``offset`` after the event occurred."""

    event_type: str
    offset: timedelta
    survey_id: str


TRIGGERS: Final[Mapping[str, Trigger]] = MappingProxyType(
    {
        # A month after disbursement the client has used the money and met the process.
        "loan_disbursed": Trigger("loan_disbursed", timedelta(days=30), "post_disbursement"),
        "loan_completed": Trigger("loan_completed", timedelta(days=0), "loan_completion"),
        # Give the resolution a few days to settle before asking how it was handled.
        "warning_resolved": Trigger("warning_resolved", timedelta(days=3), "warning_resolution"),
    }
)


def schedule_for_event(
    event_type: str,
    occurred_at: datetime,
    *,
    triggers: Mapping[str, Trigger] = TRIGGERS,
) -> datetime | None:
    """Return when to send the survey an event triggers, or None if it triggers none.

    ``occurred_at`` must be timezone-aware; mixing naive and aware times would make the
    schedule depend on the server's local zone.
    """
    if occurred_at.tzinfo is None or occurred_at.utcoffset() is None:
        msg = "occurred_at must be timezone-aware"
        raise ValueError(msg)
    trigger = triggers.get(event_type)
    return None if trigger is None else occurred_at + trigger.offset
