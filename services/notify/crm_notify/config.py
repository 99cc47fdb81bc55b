"""Settings of the notification service."""

from __future__ import annotations

from pydantic import model_validator

from crm_runtime.config import BaseServiceSettings


class NotifySettings(BaseServiceSettings):
    """Notification service settings: providers, routing of staff alerts, worker pacing."""

    service_name: str = "notify"
    grpc_port: int = 50063
    database_url: str = "sqlite+aiosqlite:///var/notify.db"

    # Finished messages (delivered, expired, dead-lettered, acknowledged push) are purged by
    # the janitor this long after their last change.
    message_retention_days: float = 180.0

    # The client service, for contacts' mobile numbers, key persons and segment members.
    client_addr: str = ""

    # Provider webhooks (Standard-Webhooks signed). Empty URL = channel not configured.
    sms_webhook_url: str = ""
    sms_webhook_secret: str = ""
    chat_webhook_url: str = ""
    chat_webhook_secret: str = ""
    webhook_timeout_seconds: float = 10.0
    # Local tests only: lets webhooks go to http://127.0.0.1.
    webhook_allow_private: bool = False

    # SMTP relay for email. Empty host = channel not configured.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    smtp_from: str = "CRM Notices <notices@bank.example>"
    smtp_timeout_seconds: float = 30.0
    # Staff email addresses are {staff id}@{staff_email_domain}.
    staff_email_domain: str = "bank.example"

    # Who hears about orange and red warnings, and who escalations reach.
    risk_officers: str = ""  # "staff/ro-1,staff/ro-2"
    team_leads: str = ""  # "teams/sme-east=staff/tl-1,teams/pf=staff/tl-2"
    default_team_lead: str = ""
    # Where the survey answer page lives; the dispatch's token is appended.
    survey_answer_base_url: str = "https://feedback.bank.example/answer/"

    default_time_zone: str = "Asia/Shanghai"
    default_locale: str = "zh-CN"

    # Delivery workers.
    delivery_interval_seconds: float = 0.5
    delivery_batch_size: int = 100
    delivery_concurrency: int = 16
    delivery_lease_seconds: float = 60.0
    retry_max_attempts: int = 8
    retry_base_seconds: float = 2.0
    retry_cap_seconds: float = 600.0
    message_ttl_hours: float = 72.0

    # Campaign dispatch and escalation.
    campaign_interval_seconds: float = 0.5
    campaign_batch_size: int = 500
    # Segment members fetched per ListSegmentMembers call (each member's contacts are listed).
    campaign_segment_page_size: int = 100
    escalation_interval_seconds: float = 30.0
    # Idle streams get a bookmark this often, and re-read the store (other replicas' writes).
    stream_heartbeat_seconds: float = 5.0
    # Tell the other replicas' streams about new push messages over NATS core pub/sub at
    # NATS_URL (push_wakeups.py). On whenever EVENT_TRANSPORT=nats; without it a stream on
    # another replica sees a message at its next heartbeat.
    push_wakeups_over_nats: bool = False

    @model_validator(mode="after")
    def _sane(self) -> NotifySettings:
        if self.delivery_batch_size < 1 or self.campaign_batch_size < 1:
            raise ValueError("batch sizes must be positive")
        if self.retry_max_attempts < 1:
            raise ValueError("RETRY_MAX_ATTEMPTS must be at least 1")
        return self

    @property
    def push_wakeups_enabled(self) -> bool:
        """Return True when push wake-ups cross replicas through NATS."""
        return self.push_wakeups_over_nats or self.event_transport == "nats"

    def risk_officer_list(self) -> list[str]:
        """Return the staff who receive orange/red warnings and final escalations."""
        return [s.strip() for s in self.risk_officers.split(",") if s.strip()]

    def team_lead_map(self) -> dict[str, str]:
        """Return team → team lead."""
        result: dict[str, str] = {}
        for item in filter(None, (p.strip() for p in self.team_leads.split(","))):
            team, sep, lead = item.partition("=")
            if not sep or not team.strip() or not lead.strip():
                raise ValueError(f"TEAM_LEADS entry {item!r} is not teams/x=staff/y")
            result[team.strip()] = lead.strip()
        return result
