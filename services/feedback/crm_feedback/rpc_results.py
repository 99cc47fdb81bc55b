"""Survey results: NPS, CSAT and response rate by RM, team, segment, product and period."""

from __future__ import annotations

import grpc

from crm.feedback.v1 import feedback_service_pb2, survey_pb2
from crm_feedback.context import FeedbackContext
from crm_feedback.domain.metrics import CsatResult, GroupResult, NpsResult, aggregate, csat, nps
from crm_feedback.domain.themes import theme_counts
from crm_feedback.periods import GRANULARITY, optional_period
from crm_feedback.results_store import ResultFilter, result_rows
from crm_feedback.validation import Violations
from crm_runtime import names
from crm_runtime.auth import current_principal
from crm_runtime.validation import STAFF_RE, TEAM_RE

DIMENSIONS = {
    survey_pb2.RESULT_DIMENSION_RELATIONSHIP_MANAGER: "rm_id",
    survey_pb2.RESULT_DIMENSION_TEAM: "team_id",
    survey_pb2.RESULT_DIMENSION_SEGMENT: "segment_id",
    survey_pb2.RESULT_DIMENSION_PRODUCT: "product",
    survey_pb2.RESULT_DIMENSION_PERIOD: "period",
}
_KEY_FIELDS = {
    "rm_id": "relationship_manager",
    "team_id": "team",
    "segment_id": "segment",
    "product": "product",
    "period": "period",
}


def nps_message(result: NpsResult) -> survey_pb2.NpsSummary:
    """Return the NpsSummary of a domain NPS result (unset fields where undefined)."""
    message = survey_pb2.NpsSummary(
        answer_count=result.n,
        promoter_count=result.promoters,
        passive_count=result.passives,
        detractor_count=result.detractors,
    )
    if result.nps is not None:
        message.score = result.nps
    if result.ci_low is not None and result.ci_high is not None:
        message.ci_low, message.ci_high = result.ci_low, result.ci_high
    return message


def csat_message(result: CsatResult) -> survey_pb2.CsatSummary:
    """Return the CsatSummary of a domain CSAT result."""
    message = survey_pb2.CsatSummary(answer_count=result.n)
    if result.satisfied_share is not None:
        message.satisfied_share = result.satisfied_share
    if result.mean is not None:
        message.mean_score = result.mean
    if result.ci_low is not None and result.ci_high is not None:
        message.ci_low, message.ci_high = result.ci_low, result.ci_high
    return message


def _group_message(by: list[str], group: GroupResult) -> survey_pb2.SurveyResultGroup:
    message = survey_pb2.SurveyResultGroup(
        dispatched_count=group.dispatched,
        answered_count=group.answered,
        nps=nps_message(group.nps),
        csat=csat_message(group.csat),
    )
    for dimension, value in zip(by, group.key, strict=True):
        setattr(message, _KEY_FIELDS[dimension], value or "")
    if group.response_rate is not None:
        message.response_rate = group.response_rate
    return message


class ResultsRpc:
    """Survey results."""

    ctx: FeedbackContext

    async def GetSurveyResults(  # noqa: N802
        self,
        request: feedback_service_pb2.GetSurveyResultsRequest,
        context: grpc.aio.ServicerContext,
    ) -> feedback_service_pb2.GetSurveyResultsResponse:
        """Aggregate sent dispatches and their answers as asked, within the caller's view."""
        principal = current_principal()
        v = Violations()
        by: list[str] = []
        for index, dimension in enumerate(request.group_by):
            name = DIMENSIONS.get(dimension)
            if name is None or name in by:
                v.add(f"group_by[{index}]", "must be a known dimension, each at most once")
            else:
                by.append(name)
        if request.relationship_manager and not STAFF_RE.match(request.relationship_manager):
            v.add("relationship_manager", "must look like staff/{staff}")
        if request.team and not TEAM_RE.match(request.team):
            v.add("team", "must look like teams/{team}")
        if request.period_granularity not in GRANULARITY:
            v.add("period_granularity", "is not a known granularity")
        v.raise_if_any()
        period = optional_period(request.period)
        where = ResultFilter(
            survey_id=names.parse(request, "survey")["survey"] if request.survey else "",
            period=period,
            relationship_manager=request.relationship_manager,
            team=request.team,
        )
        async with self.ctx.db.read() as session:
            rows, texts = await result_rows(
                session, principal, where, granularity=GRANULARITY[request.period_granularity]
            )
        groups = aggregate(rows, by)
        if not groups and not by:
            # Nothing sent: one empty overall group says so explicitly.
            groups = {(): GroupResult((), 0, 0, None, nps([]), csat([]))}
        return feedback_service_pb2.GetSurveyResultsResponse(
            groups=[_group_message(by, group) for group in groups.values()],
            themes=[
                survey_pb2.ThemeSummary(theme=t.theme, count=t.count, example=t.example)
                for t in theme_counts(texts)
            ],
        )
