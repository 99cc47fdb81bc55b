"""Survey definitions between protobuf, the domain core and their stored JSON."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, cast

from crm.feedback.v1 import survey_pb2
from crm_feedback.domain.surveys import (
    ChoiceOption,
    LocalizedText,
    Question,
    QuestionKind,
    SurveyDefinition,
)
from crm_feedback.models import DispatchRow, SurveyRow
from crm_runtime.wire import etag, timestamp

KIND_BY_ENUM: dict[Any, Any] = {
    survey_pb2.QUESTION_KIND_NPS: "nps",
    survey_pb2.QUESTION_KIND_CSAT: "csat",
    survey_pb2.QUESTION_KIND_SINGLE_CHOICE: "single_choice",
    survey_pb2.QUESTION_KIND_MULTIPLE_CHOICE: "multiple_choice",
    survey_pb2.QUESTION_KIND_FREE_TEXT: "free_text",
}
ENUM_BY_KIND: dict[Any, Any] = {kind: number for number, kind in KIND_BY_ENUM.items()}


def _text(message: survey_pb2.LocalizedText) -> LocalizedText:
    return LocalizedText(zh_cn=message.zh_cn, en=message.en)


def _text_msg(text: LocalizedText) -> survey_pb2.LocalizedText:
    return survey_pb2.LocalizedText(zh_cn=text.zh_cn, en=text.en)


def questions_from_proto(questions: Any) -> tuple[Question, ...]:
    """Return domain questions; an unset or unknown kind stays visible to validation."""
    return tuple(
        Question(
            question_id=q.question_id,
            kind=cast(QuestionKind, KIND_BY_ENUM.get(q.kind, "unspecified")),
            title=_text(q.title),
            required=q.required,
            options=tuple(ChoiceOption(o.option_id, _text(o.label)) for o in q.options),
        )
        for q in questions
    )


def definition_from_proto(
    survey_id: str, version: int, survey: survey_pb2.Survey
) -> SurveyDefinition:
    """Return the domain definition of a Survey message."""
    return SurveyDefinition(
        survey_id=survey_id,
        version=version,
        title=_text(survey.title),
        questions=questions_from_proto(survey.questions),
    )


def definition_to_json(definition: SurveyDefinition) -> str:
    """Return the stored form of a definition."""
    return json.dumps(asdict(definition), ensure_ascii=False, sort_keys=True)


def definition_from_json(text: str) -> SurveyDefinition:
    """Return a definition from its stored form."""
    data = json.loads(text)
    return SurveyDefinition(
        survey_id=data["survey_id"],
        version=data["version"],
        title=LocalizedText(**data["title"]),
        questions=tuple(
            Question(
                question_id=q["question_id"],
                kind=q["kind"],
                title=LocalizedText(**q["title"]),
                required=q["required"],
                options=tuple(
                    ChoiceOption(o["option_id"], LocalizedText(**o["label"])) for o in q["options"]
                ),
            )
            for q in data["questions"]
        ),
    )


def survey_message(row: SurveyRow, definition: SurveyDefinition) -> survey_pb2.Survey:
    """Return the Survey message of a stored survey at one of its versions."""
    return survey_pb2.Survey(
        name=f"surveys/{row.survey_id}",
        title=_text_msg(definition.title),
        questions=[
            survey_pb2.Question(
                question_id=q.question_id,
                kind=ENUM_BY_KIND.get(q.kind, 0),
                title=_text_msg(q.title),
                required=q.required,
                options=[
                    survey_pb2.ChoiceOption(option_id=o.option_id, label=_text_msg(o.label))
                    for o in q.options
                ],
            )
            for q in definition.questions
        ],
        version=definition.version,
        create_time=timestamp(row.create_time),
        update_time=timestamp(row.update_time),
        etag=etag(row.survey_id, row.version),
    )


TRIGGER_ENUM: dict[Any, Any] = {
    "loan_disbursed": survey_pb2.DISPATCH_TRIGGER_LOAN_DISBURSED,
    "loan_completed": survey_pb2.DISPATCH_TRIGGER_LOAN_COMPLETED,
    "warning_resolved": survey_pb2.DISPATCH_TRIGGER_WARNING_RESOLVED,
    "manual": survey_pb2.DISPATCH_TRIGGER_MANUAL,
}
STATE_ENUM: dict[Any, Any] = {
    "scheduled": survey_pb2.DISPATCH_STATE_SCHEDULED,
    "sent": survey_pb2.DISPATCH_STATE_SENT,
    "answered": survey_pb2.DISPATCH_STATE_ANSWERED,
    "expired": survey_pb2.DISPATCH_STATE_EXPIRED,
}


def dispatch_message(row: DispatchRow) -> survey_pb2.SurveyDispatch:
    """Return the SurveyDispatch message of a row (the answer token is never included)."""
    message = survey_pb2.SurveyDispatch(
        name=f"surveys/{row.survey_id}/dispatches/{row.id}",
        survey_version=row.survey_version,
        client=row.client,
        recipient=row.recipient,
        facility=row.facility,
        locale=row.locale,
        trigger=TRIGGER_ENUM.get(row.trigger, 0),
        state=STATE_ENUM.get(row.state, 0),
        relationship_manager=row.relationship_manager,
        team=row.team,
        product=row.product,
        send_time=timestamp(row.send_time),
        due_time=timestamp(row.due_time),
        segments=[s for s in row.segments.split(",") if s],
        channel_hint=row.channel_hint,
    )
    if row.answer_time is not None:
        message.answer_time.CopyFrom(timestamp(row.answer_time))
    return message
