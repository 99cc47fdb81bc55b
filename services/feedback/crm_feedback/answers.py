"""Survey answers: request values to domain values, validation, storage, risk signals."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.feedback.v1 import survey_pb2
from crm_feedback.context import FeedbackContext
from crm_feedback.dispatching import ANSWERED, SCHEDULED, dispatch_name
from crm_feedback.domain.risk_signals import risk_signals
from crm_feedback.domain.surveys import SurveyDefinition, validate_answers
from crm_feedback.domain.themes import themes_of
from crm_feedback.models import AnswerRow, DispatchRow, SurveyVersionRow
from crm_feedback.signals import raise_signals
from crm_feedback.survey_mapping import definition_from_json
from crm_feedback.validation import Violations
from crm_runtime.errors import FailedPrecondition, PermissionDenied
from crm_runtime.wire import timestamp

MAX_ANSWERS = 50


def token_denied(reason: str) -> PermissionDenied:
    """Return the error for an answer token that does not authorise this answer."""
    return PermissionDenied("the answer token does not authorise this answer", reason=reason)


def answer_mapping(answers: Iterable[survey_pb2.QuestionAnswer]) -> dict[str, object]:
    """Return question id → value (int, str or list of str); reject repeats and empties."""
    v = Violations()
    values: dict[str, object] = {}
    for index, answer in enumerate(answers):
        if index >= MAX_ANSWERS:
            v.add("answers", f"at most {MAX_ANSWERS} answers")
            break
        which = answer.WhichOneof("value")
        if answer.question_id in values:
            v.add(f"answers[{index}].question_id", "answers the same question twice")
        elif which is None:
            v.add(f"answers[{index}]", "has no value")
        elif which == "option_ids":
            values[answer.question_id] = list(answer.option_ids.option_ids)
        else:
            values[answer.question_id] = getattr(answer, which)
    v.raise_if_any()
    return values


def score_of(definition: SurveyDefinition, values: Mapping[str, object], kind: str) -> int | None:
    """Return the answer to the first question of `kind` (nps or csat), if answered."""
    for question in definition.questions:
        if question.kind == kind:
            value = values.get(question.question_id)
            return value if isinstance(value, int) else None
    return None


def free_texts(definition: SurveyDefinition, values: Mapping[str, object]) -> list[str]:
    """Return the non-blank free-text answers in question order."""
    texts: list[str] = []
    for question in definition.questions:
        value = values.get(question.question_id)
        if question.kind == "free_text" and isinstance(value, str) and value.strip():
            texts.append(value.strip())
    return texts


async def store_answer(
    ctx: FeedbackContext,
    session: AsyncSession,
    dispatch: DispatchRow,
    *,
    values: dict[str, object],
    actor: str,
    now: datetime,
) -> tuple[AnswerRow, SurveyDefinition]:
    """Validate against the pinned version, store, mark answered, raise risk signals."""
    version = await session.get(SurveyVersionRow, (dispatch.survey_id, dispatch.survey_version))
    if version is None:
        raise FailedPrecondition("the survey version is gone", reason="SURVEY_VERSION_NOT_FOUND")
    definition = definition_from_json(version.definition)
    v = Violations()
    v.extend("", validate_answers(definition, values))
    v.raise_if_any()
    text = "\n".join(free_texts(definition, values))
    signals = risk_signals(text, structured={}) if text else []
    row = AnswerRow(
        dispatch_id=dispatch.id,
        survey_id=dispatch.survey_id,
        survey_version=dispatch.survey_version,
        answers=json.dumps(values, ensure_ascii=False, sort_keys=True),
        nps_score=score_of(definition, values, "nps"),
        csat_score=score_of(definition, values, "csat"),
        free_text=text,
        themes=",".join(themes_of(text)) if text else "",
        risk_codes=",".join(signal.code for signal in signals),
        submitted_by=actor,
        submit_time=now,
    )
    session.add(row)
    dispatch.state = ANSWERED
    dispatch.answer_time = now
    session.add(dispatch)
    await session.flush()
    raise_signals(
        ctx, session, signals, client=dispatch.client, facility=dispatch.facility,
        source=dispatch_name(dispatch), occurred=now,
    )
    return row, definition


async def accept_answer(
    ctx: FeedbackContext,
    session: AsyncSession,
    *,
    survey_id: str,
    dispatch_id: str,
    recipient: str,
    values: dict[str, object],
    actor: str,
) -> survey_pb2.SurveyAnswer:
    """Store the one answer of a sent, unexpired dispatch addressed to `recipient`."""
    row = (
        await session.execute(
            select(DispatchRow).where(col(DispatchRow.id) == dispatch_id).with_for_update()
        )
    ).scalar_one_or_none()
    if row is None or row.survey_id != survey_id or row.recipient != recipient:
        raise token_denied("ANSWER_TOKEN_MISMATCH")
    if row.state == ANSWERED or await session.get(AnswerRow, dispatch_id) is not None:
        raise FailedPrecondition(
            "this survey has already been answered", reason="SURVEY_ALREADY_ANSWERED"
        )
    if row.state == SCHEDULED:
        raise FailedPrecondition("this survey has not been sent", reason="DISPATCH_NOT_SENT")
    now = ctx.clock()
    if row.due_time < now:
        raise FailedPrecondition("the answer period has ended", reason="DISPATCH_EXPIRED")
    stored, definition = await store_answer(ctx, session, row, values=values, actor=actor, now=now)
    return answer_message(row, stored, definition)


def answer_message(
    dispatch: DispatchRow, row: AnswerRow, definition: SurveyDefinition
) -> survey_pb2.SurveyAnswer:
    """Return the SurveyAnswer message of a stored answer."""
    kinds = {question.question_id: question.kind for question in definition.questions}
    message = survey_pb2.SurveyAnswer(
        name=f"{dispatch_name(dispatch)}/answer",
        survey_version=row.survey_version,
        submit_time=timestamp(row.submit_time),
        themes=[t for t in row.themes.split(",") if t],
        risk_signal_codes=[c for c in row.risk_codes.split(",") if c],
    )
    for question_id, value in json.loads(row.answers).items():
        answer = message.answers.add(question_id=question_id)
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            answer.score = value
        elif isinstance(value, list):
            answer.option_ids.option_ids.extend(str(item) for item in value)
        elif kinds.get(question_id) == "single_choice":
            answer.option_id = str(value)
        else:
            answer.text = str(value)
    return message
