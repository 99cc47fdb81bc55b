"""NotificationService: the RPC groups assembled into one servicer."""

from __future__ import annotations

from crm.notify.v1 import notify_service_pb2_grpc
from crm_notify.context import NotifyContext
from crm_notify.rpc_alerts import AlertsRpc
from crm_notify.rpc_campaigns import CampaignsRpc
from crm_notify.rpc_messages import MessagesRpc
from crm_notify.rpc_preferences import PreferencesRpc
from crm_notify.rpc_push import PushRpc
from crm_notify.rpc_tasks import TasksRpc
from crm_notify.rpc_templates import TemplatesRpc
from crm_notify.rpc_topics import TopicsRpc


class NotifyServicer(
    TemplatesRpc,
    MessagesRpc,
    PushRpc,
    PreferencesRpc,
    TasksRpc,
    TopicsRpc,
    CampaignsRpc,
    AlertsRpc,
    notify_service_pb2_grpc.NotificationServiceServicer,
):
    """Implements crm.notify.v1.NotificationService."""

    def __init__(self, ctx: NotifyContext) -> None:
        self.ctx = ctx
