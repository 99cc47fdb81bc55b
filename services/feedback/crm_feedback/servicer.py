"""FeedbackService: the RPC groups assembled into one servicer."""

from __future__ import annotations

from crm.feedback.v1 import feedback_service_pb2_grpc
from crm_feedback.context import FeedbackContext
from crm_feedback.rpc_approvals import ApprovalsRpc
from crm_feedback.rpc_dispatch import DispatchRpc
from crm_feedback.rpc_followups import FollowupsRpc
from crm_feedback.rpc_kpi import KpiRpc
from crm_feedback.rpc_results import ResultsRpc
from crm_feedback.rpc_surveys import SurveysRpc
from crm_feedback.rpc_visits import VisitsRpc


class FeedbackServicer(
    SurveysRpc,
    DispatchRpc,
    ResultsRpc,
    FollowupsRpc,
    VisitsRpc,
    KpiRpc,
    ApprovalsRpc,
    feedback_service_pb2_grpc.FeedbackServiceServicer,
):
    """Implements crm.feedback.v1.FeedbackService."""

    def __init__(self, ctx: FeedbackContext) -> None:
        self.ctx = ctx
