"""ClientService: the RPC groups assembled into one servicer."""

from __future__ import annotations

from crm.client.v1 import client_service_pb2_grpc
from crm_client.context import ClientContext
from crm_client.rpc_activity import ActivityRpc
from crm_client.rpc_assign import AssignRpc
from crm_client.rpc_clients import ClientsRpc
from crm_client.rpc_groups import GroupsRpc
from crm_client.rpc_guarantees import GuaranteesRpc
from crm_client.rpc_import import ImportRpc
from crm_client.rpc_memberships import MembershipsRpc
from crm_client.rpc_people import PeopleRpc
from crm_client.rpc_segments import SegmentsRpc


class ClientServicer(
    ClientsRpc,
    AssignRpc,
    PeopleRpc,
    SegmentsRpc,
    MembershipsRpc,
    ActivityRpc,
    GroupsRpc,
    GuaranteesRpc,
    ImportRpc,
    client_service_pb2_grpc.ClientServiceServicer,
):
    """Implements crm.client.v1.ClientService."""

    def __init__(self, ctx: ClientContext) -> None:
        self.ctx = ctx
