"""Survey definition RPCs: create, read, list, update (new version on change), delete."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2
from sqlalchemy.ext.asyncio import AsyncSession

from crm.feedback.v1 import feedback_service_pb2, survey_pb2
from crm_feedback import access
from crm_feedback.context import SERVICE, FeedbackContext
from crm_feedback.domain.surveys import SurveyDefinition, revise, validate_definition
from crm_feedback.models import SurveyRow
from crm_feedback.survey_mapping import definition_from_proto, questions_from_proto, survey_message
from crm_feedback.survey_store import add_version, load_survey, survey_page
from crm_feedback.validation import SURVEY_ID, Violations
from crm_runtime import idempotency, names
from crm_runtime.auth import current_principal, require_roles
from crm_runtime.errors import Aborted, AlreadyExists
from crm_runtime.fieldmask import resolve_mask
from crm_runtime.pagination import page_size
from crm_runtime.wire import etag

SURVEY_MUTABLE = frozenset({"title", "questions"})


def check_definition(definition: SurveyDefinition, prefix: str) -> None:
    """Raise INVALID_ARGUMENT with every problem of a definition."""
    v = Violations()
    for item in validate_definition(definition):
        # The survey id is checked as the request's survey_id; the rest lives in the message.
        field = "survey_id" if item.field == "survey_id" else f"{prefix}{item.field}"
        v.add(field, item.description)
    v.raise_if_any()


class SurveysRpc:
    """Survey definitions."""

    ctx: FeedbackContext

    async def CreateSurvey(  # noqa: N802
        self, request: feedback_service_pb2.CreateSurveyRequest, context: grpc.aio.ServicerContext
    ) -> survey_pb2.Survey:
        """Create version 1 of a survey."""
        principal = require_roles(*access.SURVEY_ADMIN_ROLES)
        if not SURVEY_ID.fullmatch(request.survey_id):
            Violations.single("survey_id", "must be 1-64 letters, digits, '_' or '-'")
        definition = definition_from_proto(request.survey_id, 1, request.survey)
        check_definition(definition, "survey.")
        now = self.ctx.clock()

        async def create(session: AsyncSession) -> survey_pb2.Survey:
            if await session.get(SurveyRow, request.survey_id) is not None:
                raise AlreadyExists("a survey with this id exists", reason="SURVEY_EXISTS")
            row = SurveyRow(survey_id=request.survey_id, create_time=now, update_time=now)
            session.add(row)
            add_version(session, row, definition, principal.subject)
            return survey_message(row, definition)

        return await idempotency.mutation(
            self.ctx.db, request, method=f"{SERVICE}/CreateSurvey", subject=principal.subject,
            response_type=survey_pb2.Survey, work=create,
        )

    async def GetSurvey(  # noqa: N802
        self, request: feedback_service_pb2.GetSurveyRequest, context: grpc.aio.ServicerContext
    ) -> survey_pb2.Survey:
        """Return a survey at its current version or the one asked for."""
        current_principal()
        survey_id = names.parse(request, "name")["survey"]
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
        async with self.ctx.db.read() as session:
            surveys, next_token = await survey_page(
                session, tokens=self.ctx.tokens, page_token=request.page_token, size=size
            )
        return feedback_service_pb2.ListSurveysResponse(
            surveys=[survey_message(row, definition) for row, definition in surveys],
            next_page_token=next_token,
        )

    async def UpdateSurvey(  # noqa: N802
        self, request: feedback_service_pb2.UpdateSurveyRequest, context: grpc.aio.ServicerContext
    ) -> survey_pb2.Survey:
        """Change a survey; changed content becomes the next version."""
        principal = require_roles(*access.SURVEY_ADMIN_ROLES)
        survey = names.pattern_of(survey_pb2.Survey)
        survey_id = survey.parse(request.survey.name, "survey.name")["survey"]
        paths = resolve_mask(
            request.update_mask, mutable=SURVEY_MUTABLE, protected=(),
            resource=survey_pb2.Survey.DESCRIPTOR,
        )

        async def update(session: AsyncSession) -> survey_pb2.Survey:
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
                add_version(session, row, candidate, principal.subject)
            return survey_message(row, candidate)

        return await idempotency.mutation(
            self.ctx.db, request, method=f"{SERVICE}/UpdateSurvey", subject=principal.subject,
            response_type=survey_pb2.Survey, work=update,
        )

    async def DeleteSurvey(  # noqa: N802
        self, request: feedback_service_pb2.DeleteSurveyRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """Retire a survey: no new dispatches; its dispatches and answers stay for results."""
        principal = require_roles(*access.SURVEY_ADMIN_ROLES)
        survey_id = names.parse(request, "name")["survey"]

        async def retire(session: AsyncSession) -> empty_pb2.Empty:
            row, _ = await load_survey(session, survey_id, name=request.name)
            if request.etag and request.etag != etag(row.survey_id, row.version):
                raise Aborted("the survey changed since it was read", reason="ETAG_MISMATCH")
            row.deleted = True
            row.update_time = self.ctx.clock()
            session.add(row)
            return empty_pb2.Empty()

        return await idempotency.mutation(
            self.ctx.db, request, method=f"{SERVICE}/DeleteSurvey", subject=principal.subject,
            response_type=empty_pb2.Empty, work=retire,
        )
