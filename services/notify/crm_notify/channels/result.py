"""The outcome of handing one message to a provider, shared by every channel adapter."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SendResult:
    """Whether the provider accepted the message and, if not, whether a retry may help.

    `retryable` is False on success and on permanent rejections. `retry_after_s` carries a
    provider's explicit back-off request (HTTP Retry-After) when it gave one.
    """

    accepted: bool
    provider_message_id: str | None
    retryable: bool
    error: str | None
    retry_after_s: float | None = None
