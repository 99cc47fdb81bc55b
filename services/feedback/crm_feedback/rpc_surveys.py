"""Survey definition RPCs: create, read, list, update (new version on change), delete."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.feedback.v1 import feedback_service_pb2, survey_pb2
from crm_feedback import access
from crm_feedback.context import FeedbackContext
from crm_feedback.domain.surveys import (
    SurveyDefinition,
    fingerprint,
    revise,
    validate_definition,
)
from crm_feedback.mapping import etag
from crm_feedback.models import SurveyRow, SurveyVersionRow
from crm_feedback.survey_mapping import (
    definition_from_json,
    definition_from_proto,
    definition_to_json,
    questions_from_proto,
    survey_message,
)
from crm_feedback.validation import SURVEY_ID_RE, SURVEY_NAME_RE, Violations, parse_name
from crm_runtime import idempotency
from crm_runtime.auth import current_principal, require_roles
from crm_runtime.errors import Aborted, AlreadyExists, NotFound
from crm_runtime.fieldmask import resolve_mask
from crm_runtime.pagination import page_size

SURVEY_MUTABLE = frozenset({"title", "questions"})
SERVICE = "crm.feedback.v1.FeedbackService"


def check_definition(definition: SurveyDefinition, prefix: str) -> None:
    """Raise INVALID_ARGUMENT with every problem of a definition."""
    v = Violations()
    for item in validate_definition(definition):
        # The survey id is checked as the request's survey_id; the rest lives in the message.
        field = "survey_id" if item.field == "survey_id" else f"{prefix}{item.field}"
        v.add(field, item.description)
    v.raise_if_any()


async def load_survey(
    session: AsyncSession, survey_id: str, *, version: int = 0, name: str = ""
) -> tuple[SurveyRow, SurveyDefinition]:
    """Return a live survey and one of its versions (0 = current), or NOT_FOUND."""
    row = await session.get(SurveyRow, survey_id)
    if row is None or row.deleted:
        shown = name or f"surveys/{survey_id}"
        raise NotFound(f"{shown} does not exist", reason="SURVEY_NOT_FOUND")
    stored = await session.get(SurveyVersionRow, (survey_id, version or row.version))
    if stored is None:
        raise NotFound(f"version {version} does not exist", reason="SURVEY_VERSION_NOT_FOUND")
    return row, definition_from_json(stored.definition)


def _version_row(definition: SurveyDefinition, actor: str, row: SurveyRow) -> SurveyVersionRow:
    return SurveyVersionRow(
        survey_id=definition.survey_id,
        version=definition.version,
        definition=definition_to_json(definition),
        fingerprint=fingerprint(definition),
        changed_by=actor,
        change_time=row.update_time,
    )


class SurveysRpc:
    """Survey definitions."""

    ctx: FeedbackContext

    async def CreateSurvey(  # noqa: N802
        self, request: feedback_service_pb2.CreateSurveyRequest, context: grpc.aio.ServicerContext
    ) -> survey_pb2.Survey:
        """Create version 1 of a survey."""
        principal = require_roles(*access.SURVEY_ADMIN_ROLES)
        idempotency.check_request_id(request.request_id)
        if not SURVEY_ID_RE.match(request.survey_id):
            Violations.single("survey_id", "must be 1-64 letters, digits, '_' or '-'")
        definition = definition_from_proto(request.survey_id, 1, request.survey)
        check_definition(definition, "survey.")
        method = f"{SERVICE}/CreateSurvey"
        now = self.ctx.clock()
        async with self.ctx.db.write() as session:
            replay = await idempotency.replay(
                session, method=method, request=request, subject=principal.subject,
                response_type=survey_pb2.Survey,
            )
            if replay is not None:
                return replay
            if await session.get(SurveyRow, request.survey_id) is not None:
                raise AlreadyExists("a survey with this id exists", reason="SURVEY_EXISTS")
            row = SurveyRow(survey_id=request.survey_id, create_time=now, update_time=now)
            session.add(row)
            session.add(_version_row(definition, principal.subject, row))
            response = survey_message(row, definition)
            await idempotency.remember(
                session, method=method, request=request, subject=principal.subject,
                response=response,
            )
            return response

    async def GetSurvey(  # noqa: N802
        self, request: feedback_service_pb2.GetSurveyRequest, context: grpc.aio.ServicerContext
    ) -> survey_pb2.Survey:
        """Return a survey at its current version or the one asked for."""
        current_principal()
        survey_id = parse_name(request.name, SURVEY_NAME_RE, "name").group(1)
        if request.version < 0:
            Violations.single("version", "must not be negative")
        async with self.ctx.db.read() as session:
            row, definition = await load_survey(
                session, survey_id, version=request.version, name=request.name
            )
        return survey_message(row, definition)

    async def ListSurveys(  # noqa: N802
        self, request: feedback_service_pb2.ListSurveysRequest, context: grpc.aio.ServicerContext
    ) -> feedback_service_pb2.ListSurveysResponse:
        """Return live surveys ordered by id, at their current versions."""
        current_principal()
        size = page_size(request.page_size)
        query = {"m": "ListSurveys"}
        after = str(self.ctx.tokens.decode(request.page_token, query=query) or "")
        async with self.ctx.db.read() as session:
            rows = list(
                (
                    await session.execute(
                        select(SurveyRow, SurveyVersionRow)
                        .join(
                            SurveyVersionRow,
                            (col(SurveyVersionRow.survey_id) == col(SurveyRow.survey_id))
                            & (col(SurveyVersionRow.version) == col(SurveyRow.version)),
                        )
                        .where(col(SurveyRow.survey_id) > after, col(SurveyRow.deleted).is_(False))
                        .order_by(col(SurveyRow.survey_id))
                        .limit(size + 1)
                    )
                ).all()
            )
        response = feedback_service_pb2.ListSurveysResponse(
            surveys=[
                survey_message(row, definition_from_json(version.definition))
                for row, version in rows[:size]
            ]
        )
        if len(rows) > size:
            response.next_page_token = self.ctx.tokens.encode(
                rows[size - 1][0].survey_id, query=query
            )
        return response

    async def UpdateSurvey(  # noqa: N802
        self, request: feedback_service_pb2.UpdateSurveyRequest, context: grpc.aio.ServicerContext
    ) -> survey_pb2.Survey:
        """Change a survey; changed content becomes the next version."""
        principal = require_roles(*access.SURVEY_ADMIN_ROLES)
        idempotency.check_request_id(request.request_id)
        survey_id = parse_name(request.survey.name, SURVEY_NAME_RE, "survey.name").group(1)
        paths = resolve_mask(
            request.update_mask, mutable=SURVEY_MUTABLE, protected=(),
            resource=survey_pb2.Survey.DESCRIPTOR,
        )
        method = f"{SERVICE}/UpdateSurvey"
        async with self.ctx.db.write() as session:
            replay = await idempotency.replay(
                session, method=method, request=request, subject=principal.subject,
                response_type=survey_pb2.Survey,
            )
            if replay is not None:
                return replay
            row, current = await load_survey(session, survey_id, name=request.survey.name)
            if request.survey.etag and request.survey.etag != etag(row.survey_id, row.version):
                raise Aborted("the survey changed since it was read", reason="ETAG_MISMATCH")
            candidate = revise(
                current,
                title=(
                    definition_from_proto(survey_id, 1, request.survey).title
                    if "title" in paths
                    else None
                ),
                questions=(
                    questions_from_proto(request.survey.questions) if "questions" in paths else None
                ),
            )
            check_definition(candidate, "survey.")
            if candidate.version != row.version:
                row.version = candidate.version
                row.update_time = self.ctx.clock()
                session.add(row)
                session.add(_version_row(candidate, principal.subject, row))
            response = survey_message(row, candidate)
            await idempotency.remember(
                session, method=method, request=request, subject=principal.subject,
                response=response,
            )
            return response

    async def DeleteSurvey(  # noqa: N802
        self, request: feedback_service_pb2.DeleteSurveyRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """Retire a survey: no new dispatches; its dispatches and answers stay for results."""
        principal = require_roles(*access.SURVEY_ADMIN_ROLES)
        idempotency.check_request_id(request.request_id)
        survey_id = parse_name(request.name, SURVEY_NAME_RE, "name").group(1)
        method = f"{SERVICE}/DeleteSurvey"
        async with self.ctx.db.write() as session:
            replay = await idempotency.replay(
                session, method=method, request=request, subject=principal.subject,
                response_type=empty_pb2.Empty,
            )
            if replay is not None:
                return replay
            row, _ = await load_survey(session, survey_id, name=request.name)
            if request.etag and request.etag != etag(row.survey_id, row.version):
                raise Aborted("the survey changed since it was read", reason="ETAG_MISMATCH")
            row.deleted = True
            row.update_time = self.ctx.clock()
            session.add(row)
            response = empty_pb2.Empty()
            await idempotency.remember(
                session, method=method, request=request, subject=principal.subject,
                response=response,
            )
            return response
