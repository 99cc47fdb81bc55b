"""Visit records (with risk signals to the risk service) and overdue follow-ups."""

from __future__ import annotations

import grpc
from sqlalchemy.ext.asyncio import AsyncSession

from crm.feedback.v1 import feedback_service_pb2, followup_pb2
from crm_feedback import access
from crm_feedback.context import SERVICE, FeedbackContext
from crm_feedback.domain.followups import VisitRecord, validate_visit
from crm_feedback.domain.risk_signals import RiskSignal, risk_signals
from crm_feedback.followup_mapping import ISSUE_CODES, PRODUCTION, visit_message
from crm_feedback.followup_store import load_facility, plan_and_visits, record_of
from crm_feedback.plan_terms import VISIT_KINDS
from crm_feedback.signals import merge_signals
from crm_feedback.validation import Violations, to_date
from crm_feedback.visit_store import overdue_followups, store_visit, visit_page
from crm_runtime import idempotency, names
from crm_runtime.auth import current_principal, require_roles
from crm_runtime.pagination import offset_page, page_size
from crm_runtime.validation import STAFF_RE

# Issues reported as codes carry this severity; text and structured fields may raise it.
ISSUE_SEVERITY = {
    "PROJECT_DELAYED": "medium",
    "PAYMENT_DIFFICULTY": "medium",
    "KEY_STAFF_LEFT": "medium",
    "PRODUCTION_HALTED": "high",
    "LITIGATION": "high",
}
# Domain field names that differ from the request's.
DOMAIN_FIELDS = {"visited_on": "visit_date", "progress_pct": "progress_percent"}
MAX_ITEMS = 20
MAX_ITEM_CHARS = 500


def _check_visit(visit: followup_pb2.Visit, v: Violations) -> None:
    """Record problems the domain validator does not cover."""
    if visit.kind not in VISIT_KINDS:
        v.add("visit.kind", "is required")
    for index, code in enumerate(visit.issue_codes):
        if code not in ISSUE_CODES:
            v.add(f"visit.issue_codes[{index}]", "is not a known issue")
    for field in ("issues", "key_staff_departed", "missed_milestones"):
        items = getattr(visit, field)
        if len(items) > MAX_ITEMS:
            v.add(f"visit.{field}", f"at most {MAX_ITEMS} items")
        for index, item in enumerate(items):
            if not item.strip() or len(item) > MAX_ITEM_CHARS:
                v.add(f"visit.{field}[{index}]", f"must be 1-{MAX_ITEM_CHARS} characters")
    if len(visit.next_steps) > 2000:
        v.add("visit.next_steps", "must be at most 2000 characters")
    if visit.payment_overdue_days < 0:
        v.add("visit.payment_overdue_days", "must not be negative")
    if visit.HasField("planned_progress_percent") and not (
        0 <= visit.planned_progress_percent <= 100
    ):
        v.add("visit.planned_progress_percent", "must be between 0 and 100")
    if visit.production_status not in (0, *PRODUCTION):
        v.add("visit.production_status", "is not a known status")


def _signals(visit: followup_pb2.Visit) -> list[RiskSignal]:
    """Return the visit's risk signals: reported issues, structured fields and text."""
    structured: dict[str, object] = {
        "missed_milestones": list(visit.missed_milestones),
        "key_staff_departed": list(visit.key_staff_departed),
        "controller_unreachable": visit.controller_unreachable,
        "litigation_pending": visit.litigation_pending,
        "payment_overdue_days": visit.payment_overdue_days,
    }
    if visit.HasField("progress_percent"):
        structured["progress_pct"] = visit.progress_percent
    if visit.HasField("planned_progress_percent"):
        structured["planned_progress_pct"] = visit.planned_progress_percent
    if visit.production_status in PRODUCTION:
        structured["production_status"] = PRODUCTION[visit.production_status]
    text = "\n".join([*visit.issues, visit.notes])
    described = "; ".join(visit.issues)
    reported = [
        RiskSignal(
            ISSUE_CODES[code], ISSUE_SEVERITY[ISSUE_CODES[code]],  # type: ignore[arg-type]
            f"reported issue: {ISSUE_CODES[code]}" + (f" ({described})" if described else ""),
        )
        for code in dict.fromkeys(visit.issue_codes)
    ]
    return merge_signals(risk_signals(text, structured=structured), reported)


class VisitsRpc:
    """Visits and overdue follow-ups."""

    ctx: FeedbackContext

    async def RecordVisit(  # noqa: N802
        self, request: feedback_service_pb2.RecordVisitRequest, context: grpc.aio.ServicerContext
    ) -> followup_pb2.Visit:
        """Store a visit; every risk signal in it goes to the risk service via the outbox."""
        principal = require_roles(*access.VISIT_ROLES)
        names.parse(request, "parent")
        visit = request.visit
        v = Violations()
        visited_on = to_date(visit.visit_date, "visit.visit_date", v)
        _check_visit(visit, v)
        v.raise_if_any()
        assert visited_on is not None
        record = VisitRecord(
            visited_on=visited_on,
            kind=VISIT_KINDS[visit.kind],  # type: ignore[arg-type]
            progress_pct=visit.progress_percent if visit.HasField("progress_percent") else None,
            milestone=visit.milestone or None,
            regression_reason=visit.regression_reason or None,
            notes=visit.notes,
        )
        now = self.ctx.clock()

        async def record_visit(session: AsyncSession) -> followup_pb2.Visit:
            facility = await load_facility(session, request.parent, principal, for_update=True)
            _, visits = await plan_and_visits(session, facility)
            previous = max(visits, key=lambda r: (r.visit_date, r.seq or 0), default=None)
            for item in validate_visit(
                record, record_of(previous) if previous else None, today=now.date()
            ):
                v.add(f"visit.{DOMAIN_FIELDS.get(item.field, item.field)}", item.description)
            v.raise_if_any()
            row = store_visit(
                self.ctx, session, facility, visit, record=record, signals=_signals(visit),
                actor=principal.subject, now=now,
            )
            return visit_message(facility.facility, row)

        return await idempotency.mutation(
            self.ctx.db, request, method=f"{SERVICE}/RecordVisit", subject=principal.subject,
            response_type=followup_pb2.Visit, work=record_visit,
        )

    async def ListVisits(  # noqa: N802
        self, request: feedback_service_pb2.ListVisitsRequest, context: grpc.aio.ServicerContext
    ) -> feedback_service_pb2.ListVisitsResponse:
        """Return a facility's visits, most recently recorded first."""
        principal = current_principal()
        names.parse(request, "parent")
        async with self.ctx.db.read() as session:
            facility = await load_facility(session, request.parent, principal)
            page = await visit_page(
                session, facility, tokens=self.ctx.tokens, page_token=request.page_token,
                size=page_size(request.page_size),
            )
        return feedback_service_pb2.ListVisitsResponse(
            visits=[visit_message(facility.facility, row) for row in page.rows],
            next_page_token=page.next_page_token,
        )

    async def ListOverdueFollowups(  # noqa: N802
        self,
        request: feedback_service_pb2.ListOverdueFollowupsRequest,
        context: grpc.aio.ServicerContext,
    ) -> feedback_service_pb2.ListOverdueFollowupsResponse:
        """Return planned visits past due and not done, oldest first, within the caller's view."""
        principal = current_principal()
        if request.relationship_manager and not STAFF_RE.match(request.relationship_manager):
            Violations.single("relationship_manager", "must look like staff/{staff}")
        query = {"m": "ListOverdueFollowups", "r": request.relationship_manager,
                 "p": principal.subject}
        async with self.ctx.db.read() as session:
            found = await overdue_followups(
                session, principal, relationship_manager=request.relationship_manager,
                today=self.ctx.clock().date(),
            )
        page = offset_page(
            found, tokens=self.ctx.tokens, page_token=request.page_token,
            size=page_size(request.page_size), query=query,
        )
        return feedback_service_pb2.ListOverdueFollowupsResponse(
            overdue_followups=page.rows, next_page_token=page.next_page_token
        )
