"""Hands one claimed message to its provider: SMS and chat webhooks, SMTP email.

The message id is the idempotency key everywhere: the webhook-id header (receivers dedupe on
it) and the seed of the email Message-ID. A key person's mobile number is fetched from the
client service for the one send and not stored.
"""

from __future__ import annotations

from typing import Any

from crm_notify.channels.result import SendResult
from crm_notify.channels.smtp import SmtpSender
from crm_notify.channels.webhook import WebhookSender
from crm_notify.config import NotifySettings
from crm_notify.directory import ClientDirectory, DirectoryError

ALWAYS_AVAILABLE = frozenset({"push", "task"})


class ChannelSenders:
    """The configured provider channels."""

    def __init__(self, settings: NotifySettings, directory: ClientDirectory) -> None:
        self._directory = directory
        self._staff_domain = settings.staff_email_domain
        self.sms = _webhook(settings.sms_webhook_url, settings.sms_webhook_secret, settings)
        self.chat = _webhook(settings.chat_webhook_url, settings.chat_webhook_secret, settings)
        self.email: SmtpSender | None = None
        if settings.smtp_host:
            self.email = SmtpSender(
                settings.smtp_host,
                settings.smtp_port,
                username=settings.smtp_username or None,
                password=settings.smtp_password or None,
                starttls=settings.smtp_starttls,
                from_addr=settings.smtp_from,
                timeout=settings.smtp_timeout_seconds,
                allow_plaintext_auth=settings.webhook_allow_private,
                helo_name="crm-notify",
            )

    @property
    def available(self) -> frozenset[str]:
        """Return the channels that can deliver."""
        configured = {
            name
            for name, sender in (("sms", self.sms), ("chat", self.chat), ("email", self.email))
            if sender is not None
        }
        return ALWAYS_AVAILABLE | configured

    async def close(self) -> None:
        """Close HTTP clients."""
        for sender in (self.sms, self.chat):
            if sender is not None:
                await sender.aclose()

    async def send(self, row: Any) -> SendResult:
        """Deliver one message row; failures are results, never exceptions."""
        name = f"messages/{row.id}"
        if row.channel == "chat" and self.chat is not None:
            return await self.chat.send(
                idempotency_key=row.id,
                payload={
                    "message": name,
                    "to": row.recipient,
                    "subject": row.subject,
                    "body": row.body,
                    "category": row.category,
                    "urgency": row.urgency,
                },
            )
        if row.channel == "sms" and self.sms is not None:
            try:
                mobile = await self._directory.mobile_of(row.recipient)
            except DirectoryError as exc:
                return SendResult(False, None, retryable=exc.transient, error=str(exc))
            if not mobile:
                return SendResult(False, None, retryable=False, error="no mobile number on file")
            return await self.sms.send(
                idempotency_key=row.id,
                payload={"message": name, "to": mobile, "text": row.body, "locale": row.locale},
            )
        if row.channel == "email" and self.email is not None:
            staff_id = row.recipient.removeprefix("staff/")
            return await self.email.send(
                to=f"{staff_id}@{self._staff_domain}",
                subject=row.subject,
                text=row.body,
                html=None,
                idempotency_key=row.id,
            )
        return SendResult(
            False, None, retryable=False, error=f"channel {row.channel} not configured"
        )


def _webhook(url: str, secret: str, settings: NotifySettings) -> WebhookSender | None:
    if not url:
        return None
    if not secret:
        raise ValueError(f"webhook {url} needs a secret")
    return WebhookSender(
        url,
        secret,
        timeout=settings.webhook_timeout_seconds,
        allow_private=settings.webhook_allow_private,
    )
