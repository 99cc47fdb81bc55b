"""Rating override RPCs: four eyes. One person proposes, a different credit approver approves.

A proposal changes nothing; only an approval creates a rating (trigger "override") and
announces it. An override may not lift a grade above a cap the model applied (open warning,
NPL facility), and a newer rating supersedes any pending proposal.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import grpc
from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncSession

from crm.risk.v1 import rating_pb2, risk_service_pb2
from crm_risk import access
from crm_risk.context import RiskContext
from crm_risk.groups.contagion import Contagion
from crm_risk.mapping import override_message
from crm_risk.models import ClientFactRow, RatingOverrideRow, RatingRow
from crm_risk.rating.model.policy import review_due, validate_override
from crm_risk.rating.model.scale import grade_rank, is_grade, pd_midpoint
from crm_risk.rating.rate import latest_rating, record_rating
from crm_risk.store.ratings import load_override
from crm_risk.validation import Violations
from crm_runtime import idempotency, names
from crm_runtime.auth import Principal, current_principal, require_roles
from crm_runtime.errors import FailedPrecondition, InvalidArgument, PermissionDenied

RO = "rating_override"
# The proposal is checked before anyone approves it: a placeholder stands in for the approver.
PENDING_APPROVER = "(pending approver)"


async def _load_override(
    session: AsyncSession, request: Message, principal: Principal, *, for_update: bool = False
) -> RatingOverrideRow:
    ids = names.parse(request, "name")
    await access.check_client(session, principal, ids["client"])
    return await load_override(session, ids, for_update=for_update)


def _require_pending(row: RatingOverrideRow) -> None:
    if row.state != "proposed":
        raise FailedPrecondition(f"the override is {row.state}, not proposed",
                                 reason="OVERRIDE_NOT_PENDING")


def _check_proposal(
    current: RatingRow, proposal: rating_pb2.RatingOverride, proposer: str
) -> None:
    """Refuse a proposal the policy forbids or one that would lift a capped grade."""
    problems = validate_override(
        from_grade=current.grade, to_grade=proposal.to_grade,
        proposer=proposer, approver=PENDING_APPROVER, reason=proposal.reason,
    )
    if problems:
        raise InvalidArgument.of(f"{RO}.to_grade" if "grade" in problems[0]
                                 else f"{RO}.reason", "; ".join(problems))
    if json.loads(current.caps_json) and grade_rank(proposal.to_grade) < grade_rank(current.grade):
        raise FailedPrecondition(
            f"the grade is capped at {current.grade}; an override cannot lift it",
            reason="OVERRIDE_EXCEEDS_CAP",
        )


class OverridesRpc:
    """Propose, approve, reject and read rating overrides."""

    ctx: RiskContext

    async def ProposeRatingOverride(  # noqa: N802
        self,
        request: risk_service_pb2.ProposeRatingOverrideRequest,
        context: grpc.aio.ServicerContext,
    ) -> rating_pb2.RatingOverride:
        """Record a proposal; the rating in force does not change until it is approved."""
        principal = require_roles(*access.PROPOSE_ROLES)
        client_id = names.parse(request, "parent")["client"]
        proposal = request.rating_override
        rating = names.parse(proposal, "rating", path=f"{RO}.rating")
        v = Violations()
        if rating["client"] != client_id:
            v.add(f"{RO}.rating", "must be a rating of the parent client")
        if not is_grade(proposal.to_grade):
            v.add(f"{RO}.to_grade", "is not a grade of the master scale")
        v.text(f"{RO}.reason", proposal.reason, required=True)
        v.raise_if_any()
        now = self.ctx.clock()

        async def propose(session: AsyncSession) -> rating_pb2.RatingOverride:
            await access.check_client(session, principal, client_id)
            current = await latest_rating(session, client_id)
            if current is None or current.id != rating["rating"]:
                raise FailedPrecondition("only the rating in force can be overridden",
                                         reason="RATING_SUPERSEDED")
            _check_proposal(current, proposal, principal.subject)
            row = RatingOverrideRow(
                id=uuid.uuid4().hex, client_id=client_id, rating_id=current.id,
                from_grade=current.grade, to_grade=proposal.to_grade,
                reason=proposal.reason.strip(), proposer=principal.subject, state="proposed",
                create_time=now,
            )
            session.add(row)
            return override_message(row)

        return await idempotency.mutation(
            self.ctx.db, request, method="crm.risk.v1.RiskService/ProposeRatingOverride",
            subject=principal.subject, response_type=rating_pb2.RatingOverride, work=propose,
        )

    async def GetRatingOverride(  # noqa: N802
        self,
        request: risk_service_pb2.GetRatingOverrideRequest,
        context: grpc.aio.ServicerContext,
    ) -> rating_pb2.RatingOverride:
        """Return one override."""
        async with self.ctx.db.read() as session:
            return override_message(
                await _load_override(session, request, current_principal())
            )

    async def ApproveRatingOverride(  # noqa: N802
        self,
        request: risk_service_pb2.ApproveRatingOverrideRequest,
        context: grpc.aio.ServicerContext,
    ) -> rating_pb2.RatingOverride:
        """Approve as a credit approver who is not the proposer; the override takes effect."""
        principal = require_roles(*access.APPROVE_ROLES)
        now = self.ctx.clock()

        async def approve(session: AsyncSession) -> rating_pb2.RatingOverride:
            row = await _load_override(session, request, principal, for_update=True)
            _require_pending(row)
            if principal.subject.casefold() == row.proposer.casefold():
                raise PermissionDenied("the proposer cannot approve their own override",
                                       reason="SAME_PERSON_APPROVAL")
            problems = validate_override(
                from_grade=row.from_grade, to_grade=row.to_grade, proposer=row.proposer,
                approver=principal.subject, reason=row.reason,
            )
            if problems:
                raise FailedPrecondition("; ".join(problems), reason="OVERRIDE_INVALID")
            current = await latest_rating(session, row.client_id)
            fact = await session.get(ClientFactRow, row.client_id)
            if current is None or current.id != row.rating_id or fact is None:
                raise FailedPrecondition("a newer rating superseded the override",
                                         reason="RATING_SUPERSEDED")
            rating = self._override_rating(current, row, principal.subject, now)
            await record_rating(session, self.ctx.outbox, fact, rating, current, now=now,
                                contagion=Contagion.of(self.ctx.settings))
            row.state, row.approver = "approved", principal.subject
            row.decision_comment, row.decide_time = request.comment, now
            row.resulting_rating_id = rating.id
            session.add(row)
            return override_message(row)

        return await idempotency.mutation(
            self.ctx.db, request, method="crm.risk.v1.RiskService/ApproveRatingOverride",
            subject=principal.subject, response_type=rating_pb2.RatingOverride, work=approve,
        )

    @staticmethod
    def _override_rating(
        base: RatingRow, override: RatingOverrideRow, approver: str, now: datetime
    ) -> RatingRow:
        """Return the rating an approved override produces: the base rating's explanation
        with the overridden grade and that grade's PD (band midpoint)."""
        return RatingRow(
            id=uuid.uuid4().hex, client_id=base.client_id, grade=override.to_grade,
            pd=pd_midpoint(override.to_grade), score=base.score,
            model_grade=base.model_grade, model_pd=base.model_pd,
            dimension_scores_json=base.dimension_scores_json,
            reason_codes_json=base.reason_codes_json, caps_json=base.caps_json,
            inputs_json=base.inputs_json, scorecard_version=base.scorecard_version,
            master_scale_version=base.master_scale_version,
            ratio_thresholds_version=base.ratio_thresholds_version, trigger="override",
            statement_id=base.statement_id, previous_grade=base.grade, override_id=override.id,
            floating_rate_share=base.floating_rate_share, fx_revenue_share=base.fx_revenue_share,
            rated_by=f"{override.proposer} + {approver}"[:128], effective_time=now,
            next_review_date=review_due(last_rated=now.date(), grade=override.to_grade,
                                        on_watch_list=False),
        )

    async def RejectRatingOverride(  # noqa: N802
        self,
        request: risk_service_pb2.RejectRatingOverrideRequest,
        context: grpc.aio.ServicerContext,
    ) -> rating_pb2.RatingOverride:
        """Reject a proposal; the rating in force stays."""
        principal = require_roles(*access.APPROVE_ROLES)
        v = Violations()
        v.text("comment", request.comment, required=True)
        v.raise_if_any()
        now = self.ctx.clock()

        async def reject(session: AsyncSession) -> rating_pb2.RatingOverride:
            row = await _load_override(session, request, principal, for_update=True)
            _require_pending(row)
            row.state, row.approver = "rejected", principal.subject
            row.decision_comment, row.decide_time = request.comment, now
            session.add(row)
            return override_message(row)

        return await idempotency.mutation(
            self.ctx.db, request, method="crm.risk.v1.RiskService/RejectRatingOverride",
            subject=principal.subject, response_type=rating_pb2.RatingOverride, work=reject,
        )
