"""Settings of the feedback service."""

from __future__ import annotations

import base64
import binascii

from pydantic import model_validator

from crm_runtime.config import BaseServiceSettings

MIN_ANSWER_SECRET_BYTES = 32


class FeedbackSettings(BaseServiceSettings):
    """Feedback service settings; the answer-token secret is mandatory."""

    service_name: str = "feedback"
    grpc_port: int = 50064
    database_url: str = "sqlite+aiosqlite:///var/feedback.db"
    # Client service, for resolving segment members of a survey send ("host:port").
    client_addr: str = ""
    # HMAC key of one-time answer tokens, base64 of at least 32 bytes. It must survive
    # restarts: rotating it invalidates every token that is out with a recipient.
    answer_token_secret: str = ""
    # How often the scheduler sends due surveys, expires old dispatches and flags overdue
    # follow-ups; 0 turns the background scheduler off (tests drive it themselves).
    scheduler_interval_seconds: float = 30.0
    # Days a recipient has to answer a survey when the sender does not say.
    answer_window_days: int = 30
    # KPI weights: a built-in version ("KPI-2026.1"), or a custom label together with
    # KPI_WEIGHTS given as "nps=0.2,csat=0.1,..." (every component, weights summing to 1).
    kpi_weights_version: str = "KPI-2026.1"
    kpi_weights: str = ""

    @model_validator(mode="after")
    def _secret_present(self) -> FeedbackSettings:
        try:
            secret = base64.b64decode(self.answer_token_secret, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("ANSWER_TOKEN_SECRET must be base64") from exc
        if len(secret) < MIN_ANSWER_SECRET_BYTES:
            raise ValueError(
                "ANSWER_TOKEN_SECRET is required: base64 of at least "
                f"{MIN_ANSWER_SECRET_BYTES} bytes"
            )
        return self

    def answer_secret(self) -> bytes:
        """Return the decoded answer-token secret."""
        return base64.b64decode(self.answer_token_secret)

    def custom_kpi_weights(self) -> dict[str, float] | None:
        """Return the configured KPI weights, or None to use the built-in version's."""
        if not self.kpi_weights.strip():
            return None
        weights: dict[str, float] = {}
        for item in filter(None, (part.strip() for part in self.kpi_weights.split(","))):
            name, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"KPI_WEIGHTS entry {item!r} is not component=weight")
            weights[name.strip()] = float(value)
        return weights
