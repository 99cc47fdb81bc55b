"""Demo step: warnings become RM tasks and escalate; a campaign reaches a segment.

By now monitoring, ratings and the group contagion have raised warnings; notify turned each
into an alert with a task and a push for the owner (orange and red also to the risk
officers) and its escalator climbs the ladder for those nobody acknowledged in time. The
step reads the alerts back, lets one RM acknowledge their most urgent alert (which stops its
ladder), then operations sends a campaign to a client segment over push and SMS and a
briefing to the RMs who serve it by email. SMS goes to the demo's SMS gateway and email to
its SMTP server (crm_demo.providers), and the step waits until what notify counts as
delivered or sent has arrived there.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC

import grpc

from crm.notify.v1 import (
    alert_pb2,
    campaign_pb2,
    common_pb2,
    notify_service_pb2,
    notify_service_pb2_grpc,
    template_pb2,
)
from crm_demo.launcher import Service
from crm_demo.portfolio import PortfolioClient
from crm_demo.progress import bar
from crm_demo.providers import SmsGateway, SmtpServer
from crm_notify.domain.escalation import CURRENT_POLICY_VERSION as ESCALATION_POLICY
from crm_notify.domain.escalation import escalation_steps
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit

CAMPAIGN_SEGMENT = "segments/beh-potential-risk"
RISK_OFFICER = "staff/risk-officer-demo"
TEAM_LEAD = "staff/team-lead-demo"
_LEVEL_ORDER = {"red": 0, "orange": 1, "yellow": 2, "blue": 3}
Metadata = tuple[tuple[str, str], ...]


async def read_alerts(stub: notify_service_pb2_grpc.NotificationServiceStub,
                      reader: Metadata) -> list[alert_pb2.Alert]:
    """Return every alert notify holds, page by page."""
    alerts: list[alert_pb2.Alert] = []
    token = ""
    while True:
        page = await stub.ListAlerts(
            notify_service_pb2.ListAlertsRequest(page_size=500, page_token=token),
            metadata=reader)
        alerts.extend(page.alerts)
        token = page.next_page_token
        if not token:
            return alerts


async def _template(stub: notify_service_pb2_grpc.NotificationServiceStub,
                    ops: Metadata, template_id: str, zh: tuple[str, str],
                    en: tuple[str, str]) -> str:
    variables = [template_pb2.TemplateVariable(
        name="client_name", type=template_pb2.VARIABLE_TYPE_STRING, optional=True)]
    created = await stub.CreateTemplate(notify_service_pb2.CreateTemplateRequest(
        template_id=template_id,
        template=template_pb2.Template(
            display_name=template_id, category=common_pb2.CATEGORY_SERVICE, variables=variables,
            variants=[template_pb2.TemplateVariant(locale="zh-CN", subject=zh[0], body=zh[1]),
                      template_pb2.TemplateVariant(locale="en", subject=en[0], body=en[1])]),
    ), metadata=ops)
    return str(created.name)


async def _campaign(stub: notify_service_pb2_grpc.NotificationServiceStub, ops: Metadata,
                    campaign: campaign_pb2.Campaign) -> str:
    created = await stub.CreateCampaign(notify_service_pb2.CreateCampaignRequest(
        campaign=campaign, request_id=str(uuid.uuid4())), metadata=ops)
    return str(created.name)


async def run(notify: Service, identity: IdentityKit, portfolio: Sequence[PortfolioClient],
              sms: SmsGateway, smtp: SmtpServer) -> dict[str, object]:
    """Read alerts, acknowledge one, run the campaigns; print and return the figures."""
    ops = identity.metadata("staff/ops-demo", Role.OPS)
    officer = identity.metadata(RISK_OFFICER, Role.RISK_OFFICER)
    async with grpc.aio.insecure_channel(notify.address) as channel:
        stub = notify_service_pb2_grpc.NotificationServiceStub(channel)
        alerts = await read_alerts(stub, officer)
        acknowledged = await _acknowledge_most_urgent(stub, identity, alerts, portfolio)
        segment_template = await _template(
            stub, ops, "demo-rate-review",
            ("利率复核", "{{ client_name }}：您的授信将于本季度复核，客户经理将与您联系。"),
            ("Rate review", "{{ client_name }}: your facilities are reviewed this quarter."))
        segment_campaign = await _campaign(stub, ops, campaign_pb2.Campaign(
            display_name="授信复核通知 / Facility review notice", template=segment_template,
            segment=CAMPAIGN_SEGMENT, channels=[common_pb2.CHANNEL_PUSH, common_pb2.CHANNEL_SMS]))
        rms = sorted({p.create.relationship_manager for p in portfolio})
        briefing_template = await _template(
            stub, ops, "demo-rm-briefing",
            ("复核名单", "潜在风险客户本季度复核名单已发布，请登录工作台查看。"),
            ("Review list", "This quarter's review list of potential-risk clients is out."))
        briefing = await _campaign(stub, ops, campaign_pb2.Campaign(
            display_name="RM briefing", template=briefing_template,
            recipient_list=campaign_pb2.RecipientList(
                recipients=[campaign_pb2.CampaignRecipient(recipient=r) for r in rms]),
            channels=[common_pb2.CHANNEL_EMAIL]))
        to_segment = await _settle(stub, ops, segment_campaign, lambda: len(sms.received))
        to_rms = await _settle(stub, ops, briefing, smtp.mailbox.count)
    levels = Counter(a.level for a in alerts)
    escalated = sum(bool(a.escalations) for a in alerts)
    ladder = _ladder([a for a in alerts if a.name != acknowledged[1]])
    print(f"\nCommunication: {len(alerts)} warning alerts in notify ("
          + ", ".join(f"{lv} {levels[lv]}" for lv in _LEVEL_ORDER if levels[lv])
          + "), each a task and a push for its RM (orange and red also to the risk officers);"
          f" {escalated} escalated so far.")
    print(f"  escalation ({ESCALATION_POLICY}): unless acknowledged, {ladder}.")
    print(f"  {acknowledged[0]} acknowledged alert {acknowledged[1]} ({acknowledged[2]}): "
          "its escalation stops and its task closes.")
    _print_campaign("segment campaign", CAMPAIGN_SEGMENT, to_segment,
                    f"SMS gateway received {len(sms.received)}")
    _print_campaign("RM briefing", f"{len(rms)} RMs", to_rms,
                    f"local SMTP server received {smtp.mailbox.count()} mails")
    return {"alerts": len(alerts), "escalated": escalated, "ladder": ladder,
            "segment_campaign": segment_campaign, "briefing_campaign": briefing,
            "sms_received": len(sms.received), "mails_received": smtp.mailbox.count()}


async def _settle(stub: notify_service_pb2_grpc.NotificationServiceStub, ops: Metadata,
                  name: str, arrived: Callable[[], int]) -> campaign_pb2.Campaign:
    """Wait until the campaign is dispatched, nothing but push is left queued and the provider
    holds everything notify handed it. Push messages stay queued until the client's app
    connects and acknowledges them (one per recipient), so they are not waited for."""
    with bar(f"campaign {name.removeprefix('campaigns/')}", None):
        for _ in range(240):
            got = await stub.GetCampaign(notify_service_pb2.GetCampaignRequest(name=name),
                                         metadata=ops)
            push = got.stats.recipients if common_pb2.CHANNEL_PUSH in got.channels else 0
            handed = got.stats.delivered + got.stats.sent
            dispatched = got.state == campaign_pb2.CAMPAIGN_STATE_DISPATCHED
            if dispatched and got.stats.queued <= push and arrived() >= handed:
                break
            await asyncio.sleep(0.5)
    settled: campaign_pb2.Campaign = got
    return settled


def _print_campaign(label: str, audience: str, campaign: campaign_pb2.Campaign,
                    arrived: str) -> None:
    s = campaign.stats
    print(f"  {label} to {audience}: {s.recipients} recipients, {s.messages} messages "
          f"(delivered {s.delivered}, sent {s.sent}, queued {s.queued}, failed {s.failed}, "
          f"suppressed {s.suppressed}); {arrived}.")


def _ladder(alerts: Sequence[alert_pb2.Alert]) -> str:
    """Describe when the open alerts' first escalation steps fall due, by level."""
    parts = []
    for level in _LEVEL_ORDER:
        raised = [a.raise_time.ToDatetime(UTC) for a in alerts
                  if a.level == level and a.state == alert_pb2.ALERT_STATE_OPEN]
        steps = [escalation_steps(level=level, raised_at=r)[:1] for r in raised]
        firsts = [s[0] for s in steps if s]
        if firsts:
            first = min(firsts, key=lambda s: s.at)
            parts.append(f"{len(firsts)} {level} reach the {first.target_role.replace('_', ' ')}"
                         f" from {first.at:%H:%M} UTC")
    return "; ".join(parts) or "nothing is left to escalate"


async def _acknowledge_most_urgent(
    stub: notify_service_pb2_grpc.NotificationServiceStub, identity: IdentityKit,
    alerts: list[alert_pb2.Alert], portfolio: Sequence[PortfolioClient],
) -> tuple[str, str, str]:
    """The owner of the most urgent open alert acknowledges it; return (who, alert, level)."""
    teams = {p.create.relationship_manager: p.create.team for p in portfolio}
    open_alerts = [a for a in alerts if a.state == alert_pb2.ALERT_STATE_OPEN
                   and a.owner in teams]
    if not open_alerts:
        return "nobody", "-", "-"
    alert = min(open_alerts, key=lambda a: (_LEVEL_ORDER.get(a.level, 9), a.raise_time.seconds))
    owner = identity.metadata(alert.owner, Role.RELATIONSHIP_MANAGER, teams=(teams[alert.owner],))
    await stub.AcknowledgeAlert(notify_service_pb2.AcknowledgeAlertRequest(
        name=alert.name, note="called the client; reviewing", request_id=str(uuid.uuid4())),
        metadata=owner)
    return alert.owner, alert.name, alert.level
