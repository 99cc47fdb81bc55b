"""Sending surveys, listing dispatches and storing answers authorised by one-time tokens."""

from __future__ import annotations

from datetime import timedelta

import grpc
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm.feedback.v1 import feedback_service_pb2, survey_pb2
from crm_feedback import access
from crm_feedback.answers import accept_answer, answer_mapping, token_denied
from crm_feedback.context import SERVICE, FeedbackContext
from crm_feedback.dispatching import DispatchSpec, dispatch_page, send_now
from crm_feedback.domain.tokens import verify_token
from crm_feedback.segments import segment_members
from crm_feedback.survey_mapping import dispatch_message
from crm_feedback.survey_store import load_survey
from crm_feedback.validation import CLIENT, LOCALES, SEGMENT, Violations, is_set, to_datetime
from crm_runtime import idempotency, names
from crm_runtime.auth import current_principal, require_roles
from crm_runtime.errors import FailedPrecondition
from crm_runtime.pagination import page_size

MAX_LISTED_CLIENTS = 1_000
MAX_NAMES_RETURNED = 1_000


class DispatchRpc:
    """Survey sends and answers."""

    ctx: FeedbackContext

    def _check_send(self, request: feedback_service_pb2.SendSurveyRequest) -> None:
        v = Violations()
        if bool(request.segment) == bool(request.clients):
            v.add("segment", "give either a segment or a list of clients")
        if request.segment and not SEGMENT.regex.fullmatch(request.segment):
            v.add("segment", "must look like segments/{segment}")
        if len(request.clients) > MAX_LISTED_CLIENTS:
            v.add("clients", f"at most {MAX_LISTED_CLIENTS} per call")
        for index, client in enumerate(request.clients):
            if not CLIENT.regex.fullmatch(client):
                v.add(f"clients[{index}]", "must look like clients/{client}")
        if request.locale and request.locale not in LOCALES:
            v.add("locale", f"must be one of {list(LOCALES)}")
        if len(request.channel_hint) > 32:
            v.add("channel_hint", "must be at most 32 characters")
        if is_set(request.due_time) and to_datetime(request.due_time) <= self.ctx.clock():
            v.add("due_time", "must be in the future")
        v.raise_if_any()

    async def SendSurvey(  # noqa: N802
        self, request: feedback_service_pb2.SendSurveyRequest, context: grpc.aio.ServicerContext
    ) -> feedback_service_pb2.SendSurveyResponse:
        """Dispatch a survey now to a segment's members or to listed clients."""
        principal = require_roles(*access.SEND_ROLES)
        survey_id = names.parse(request, "survey")["survey"]
        self._check_send(request)
        method = f"{SERVICE}/SendSurvey"
        async with self.ctx.db.read() as session:
            # A retry gets its first answer without asking the client service for members.
            replay = await idempotency.replay(
                session, method=method, request=request, subject=principal.subject,
                response_type=feedback_service_pb2.SendSurveyResponse,
            )
            if replay is not None:
                return replay
            await load_survey(session, survey_id, name=request.survey)
        # Members are resolved before the write transaction: no remote call holds the lock.
        clients = (
            await segment_members(self.ctx, request.segment)
            if request.segment
            else list(dict.fromkeys(request.clients))
        )
        now = self.ctx.clock()
        due = (
            to_datetime(request.due_time)
            if is_set(request.due_time)
            else now + timedelta(days=self.ctx.answer_window_days)
        )

        async def send(session: AsyncSession) -> feedback_service_pb2.SendSurveyResponse:
            survey, _ = await load_survey(session, survey_id, name=request.survey)
            # One spec for every recipient; send_now fills in each client.
            template = DispatchSpec(
                survey_id=survey_id, survey_version=survey.version, client="",
                trigger="manual", send_time=now, due_time=due,
                locale=request.locale or "zh-CN", channel_hint=request.channel_hint,
            )
            sent = await send_now(self.ctx, session, clients, template, limit=MAX_NAMES_RETURNED)
            return feedback_service_pb2.SendSurveyResponse(
                dispatch_count=len(clients), dispatches=sent
            )

        return await idempotency.mutation(
            self.ctx.db, request, method=method, subject=principal.subject,
            response_type=feedback_service_pb2.SendSurveyResponse, work=send,
        )

    async def ListSurveyDispatches(  # noqa: N802
        self,
        request: feedback_service_pb2.ListSurveyDispatchesRequest,
        context: grpc.aio.ServicerContext,
    ) -> feedback_service_pb2.ListSurveyDispatchesResponse:
        """Return a survey's dispatches the caller may see, oldest first."""
        principal = current_principal()
        survey_id = names.parse(request, "parent")["survey"]
        if request.client:
            CLIENT.parse(request.client, "client")
        async with self.ctx.db.read() as session:
            page = await dispatch_page(
                session, principal, survey_id=survey_id, client=request.client,
                tokens=self.ctx.tokens, page_token=request.page_token,
                size=page_size(request.page_size),
            )
        return feedback_service_pb2.ListSurveyDispatchesResponse(
            dispatches=[dispatch_message(row) for row in page.rows],
            next_page_token=page.next_page_token,
        )

    async def AnswerSurvey(  # noqa: N802
        self, request: feedback_service_pb2.AnswerSurveyRequest, context: grpc.aio.ServicerContext
    ) -> survey_pb2.SurveyAnswer:
        """Store the one answer of a dispatch; the token must be this dispatch's own."""
        principal = require_roles(*access.ANSWER_ROLES)
        idempotency.check_request_id(request.request_id)
        ids = names.parse(request, "dispatch")
        survey_id, dispatch_id = ids["survey"], ids["dispatch"]
        if not request.answer_token:
            Violations.single("answer_token", "is required")
        claims = verify_token(self.ctx.answer_secret, request.answer_token)
        if claims is None:
            raise token_denied("ANSWER_TOKEN_INVALID")
        if claims.dispatch_id != dispatch_id:
            raise token_denied("ANSWER_TOKEN_MISMATCH")
        values = answer_mapping(request.answers)

        async def answer(session: AsyncSession) -> survey_pb2.SurveyAnswer:
            return await accept_answer(
                self.ctx, session, survey_id=survey_id, dispatch_id=dispatch_id,
                recipient=claims.recipient_id, values=values, actor=principal.subject,
            )

        try:
            return await idempotency.mutation(
                self.ctx.db, request, method=f"{SERVICE}/AnswerSurvey",
                subject=principal.subject, response_type=survey_pb2.SurveyAnswer, work=answer,
            )
        except IntegrityError as exc:
            # A concurrent answer won the primary key between our check and insert.
            raise FailedPrecondition(
                "this survey has already been answered", reason="SURVEY_ALREADY_ANSWERED"
            ) from exc
