"""RiskService: the RPC groups assembled into one servicer."""

from __future__ import annotations

from crm.risk.v1 import risk_service_pb2_grpc
from crm_risk.context import RiskContext
from crm_risk.rpc_facilities import FacilitiesRpc
from crm_risk.rpc_facility_events import FacilityEventsRpc
from crm_risk.rpc_groups import GroupsRpc
from crm_risk.rpc_monitoring import MonitoringRpc
from crm_risk.rpc_overrides import OverridesRpc
from crm_risk.rpc_playbooks import PlaybooksRpc
from crm_risk.rpc_portfolio import PortfolioRpc
from crm_risk.rpc_projects import ProjectsRpc
from crm_risk.rpc_ratings import RatingsRpc
from crm_risk.rpc_signals import SignalsRpc
from crm_risk.rpc_statements import StatementsRpc
from crm_risk.rpc_warnings import WarningsRpc


class RiskServicer(
    FacilitiesRpc,
    FacilityEventsRpc,
    StatementsRpc,
    RatingsRpc,
    OverridesRpc,
    MonitoringRpc,
    SignalsRpc,
    WarningsRpc,
    PortfolioRpc,
    GroupsRpc,
    PlaybooksRpc,
    ProjectsRpc,
    risk_service_pb2_grpc.RiskServiceServicer,
):
    """Implements crm.risk.v1.RiskService."""

    def __init__(self, ctx: RiskContext) -> None:
        self.ctx = ctx
