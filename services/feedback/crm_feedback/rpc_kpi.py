"""RM and team KPI scorecards, rankings and frozen period snapshots."""

from __future__ import annotations

import grpc
from sqlalchemy.ext.asyncio import AsyncSession

from crm.feedback.v1 import feedback_service_pb2, kpi_pb2
from crm_feedback import access
from crm_feedback.context import SERVICE, FeedbackContext
from crm_feedback.domain.kpi import KpiInputs, Scorecard, rank, scorecard, warning_response
from crm_feedback.kpi_inputs import Subject, gather, subjects_with_data
from crm_feedback.kpi_store import freeze, frozen_card, frozen_cards, is_frozen
from crm_feedback.periods import Period, parse_period
from crm_feedback.validation import Violations
from crm_runtime import idempotency
from crm_runtime.auth import Principal, Role, current_principal, require_roles
from crm_runtime.errors import FailedPrecondition, NotFound, PermissionDenied
from crm_runtime.pagination import offset_page, page_size
from crm_runtime.validation import STAFF_RE, TEAM_RE
from crm_runtime.wire import money_message, timestamp


def _scorecard_message(
    card: Scorecard, inputs: KpiInputs
) -> kpi_pb2.Scorecard:
    """Return the Scorecard message with the counts it was computed from."""
    response = warning_response(inputs.warnings, as_of=inputs.as_of)
    figures = kpi_pb2.KpiFigures(
        nps_answer_count=inputs.nps.n,
        promoter_count=inputs.nps.promoters,
        detractor_count=inputs.nps.detractors,
        csat_answer_count=inputs.csat.n,
        csat_satisfied_count=round((inputs.csat.satisfied_share or 0) * inputs.csat.n),
        warning_count=response.n,
        ack_measured_count=response.ack_measured,
        acked_within_sla_count=response.acked_within_sla,
        resolve_measured_count=response.resolve_measured,
        resolved_within_sla_count=response.resolved_within_sla,
        followups_due_count=inputs.followups_planned,
        followups_on_time_count=inputs.followups_on_time,
        exposure_start=money_message(inputs.exposure_start),
        exposure_end=money_message(inputs.exposure_end),
        grade_upgrade_count=inputs.grade_upgrades,
        grade_downgrade_count=inputs.grade_downgrades,
    )
    if response.median_ack is not None:
        figures.median_ack_seconds = response.median_ack.total_seconds()
    message = kpi_pb2.Scorecard(
        subject=card.rm_id,
        period=card.period,
        weights_version=card.version,
        compute_time=timestamp(inputs.as_of),
        figures=figures,
    )
    for name, component in card.components.items():
        item = message.components.add(component=name, weight=component.weight)
        if component.value is not None and component.score_0_100 is not None:
            item.value, item.score = component.value, component.score_0_100
    if card.total is not None:
        message.total_score = card.total
    return message


def _check_subject(subject: str, field: str = "subject") -> None:
    if not (STAFF_RE.match(subject) or TEAM_RE.match(subject)):
        Violations.single(field, "must look like staff/{staff} or teams/{team}")


def _may_read(principal: Principal, subject: str) -> bool:
    if principal.sees_whole_portfolio:
        return True
    if subject.startswith("staff/"):
        return subject == principal.subject or principal.has(Role.TEAM_LEAD)
    return subject in principal.teams


def _scope_team(principal: Principal, team: str) -> None:
    """Team leads list and rank only their own teams."""
    if team and not TEAM_RE.match(team):
        Violations.single("team", "must look like teams/{team}")
    if not principal.sees_whole_portfolio and (not team or team not in principal.teams):
        raise PermissionDenied("team leads may rank only their own team", reason="ACCESS_DENIED")


class KpiRpc:
    """KPI scorecards."""

    ctx: FeedbackContext

    async def _compute(
        self, session: AsyncSession, subject: str, period: Period
    ) -> kpi_pb2.Scorecard:
        inputs = await gather(session, Subject(subject), period, self.ctx.clock())
        card = scorecard(inputs, version=self.ctx.kpi_version, weights=self.ctx.kpi_weights)
        return _scorecard_message(card, inputs)

    async def _cards(
        self, session: AsyncSession, period: Period, *, teams: bool, team: str
    ) -> tuple[list[kpi_pb2.Scorecard], bool]:
        """Return the period's scorecards (frozen ones if the period was snapshotted)."""
        if await is_frozen(session, period.label):
            return await frozen_cards(session, period.label, teams=teams, team=team), True
        subjects = await subjects_with_data(session, period, teams=teams, team_filter=team)
        return [await self._compute(session, s, period) for s in subjects], False

    async def GetScorecard(  # noqa: N802
        self, request: feedback_service_pb2.GetScorecardRequest, context: grpc.aio.ServicerContext
    ) -> kpi_pb2.Scorecard:
        """Return a scorecard: frozen figures for a snapshotted period, else computed now."""
        principal = current_principal()
        _check_subject(request.subject)
        period = parse_period(request.period)
        if not _may_read(principal, request.subject):
            raise access.denied("scorecard")
        async with self.ctx.db.read() as session:
            if not await is_frozen(session, period.label):
                return await self._compute(session, request.subject, period)
            card = await frozen_card(session, period.label, request.subject)
        if card is None:
            raise NotFound(
                f"{request.subject} has no scorecard in the frozen period {period.label}",
                reason="SCORECARD_NOT_IN_SNAPSHOT",
            )
        return card

    async def ListScorecards(  # noqa: N802
        self, request: feedback_service_pb2.ListScorecardsRequest, context: grpc.aio.ServicerContext
    ) -> feedback_service_pb2.ListScorecardsResponse:
        """Return the scorecards of every RM or team with data in the period."""
        principal = require_roles(*access.RANK_ROLES)
        _scope_team(principal, request.team)
        period = parse_period(request.period)
        teams = request.scope == kpi_pb2.KPI_SCOPE_TEAM
        query = {"m": "ListScorecards", "p": period.label, "s": teams, "t": request.team,
                 "c": principal.subject}
        size = page_size(request.page_size)
        async with self.ctx.db.read() as session:
            if await is_frozen(session, period.label):
                cards = await frozen_cards(session, period.label, teams=teams, team=request.team)
                page = offset_page(
                    cards, tokens=self.ctx.tokens, page_token=request.page_token, size=size,
                    query=query,
                )
                return feedback_service_pb2.ListScorecardsResponse(
                    scorecards=page.rows, next_page_token=page.next_page_token
                )
            # Only the page's subjects are computed: a scorecard costs several queries.
            subjects = offset_page(
                await subjects_with_data(session, period, teams=teams, team_filter=request.team),
                tokens=self.ctx.tokens, page_token=request.page_token, size=size, query=query,
            )
            computed = [await self._compute(session, s, period) for s in subjects.rows]
        return feedback_service_pb2.ListScorecardsResponse(
            scorecards=computed, next_page_token=subjects.next_page_token
        )

    async def RankScorecards(  # noqa: N802
        self, request: feedback_service_pb2.RankScorecardsRequest, context: grpc.aio.ServicerContext
    ) -> feedback_service_pb2.RankScorecardsResponse:
        """Rank RMs or teams by total score, best first (ties by name)."""
        principal = require_roles(*access.RANK_ROLES)
        _scope_team(principal, request.team)
        period = parse_period(request.period)
        teams = request.scope == kpi_pb2.KPI_SCOPE_TEAM
        async with self.ctx.db.read() as session:
            cards, frozen = await self._cards(session, period, teams=teams, team=request.team)
        ranked = rank(
            [
                Scorecard(
                    c.subject, c.period, {}, c.total_score if c.HasField("total_score") else None,
                    c.weights_version,
                )
                for c in cards
            ]
        )
        response = feedback_service_pb2.RankScorecardsResponse(
            weights_version=cards[0].weights_version if cards else self.ctx.kpi_version,
            frozen=frozen,
        )
        for entry in ranked:
            item = response.entries.add(rank=entry.rank, subject=entry.rm_id)
            if entry.total is not None:
                item.total_score = entry.total
        return response

    async def SnapshotKpiPeriod(  # noqa: N802
        self,
        request: feedback_service_pb2.SnapshotKpiPeriodRequest,
        context: grpc.aio.ServicerContext,
    ) -> kpi_pb2.KpiSnapshot:
        """Freeze every RM's and team's scorecard of a finished period."""
        principal = require_roles(*access.SNAPSHOT_ROLES)
        period = parse_period(request.period)
        now = self.ctx.clock()
        if period.end > now:
            raise FailedPrecondition("the period has not ended", reason="PERIOD_NOT_ENDED")

        async def snapshot(session: AsyncSession) -> kpi_pb2.KpiSnapshot:
            return await freeze(
                session, period, self._compute, version=self.ctx.kpi_version,
                actor=principal.subject, now=now,
            )

        return await idempotency.mutation(
            self.ctx.db, request, method=f"{SERVICE}/SnapshotKpiPeriod",
            subject=principal.subject, response_type=kpi_pb2.KpiSnapshot, work=snapshot,
        )
