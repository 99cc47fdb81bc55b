"""What the operator CLI reads from the environment about the gateway.

Only the settings the CLI's gateway commands use, with the gateway's own defaults, so that
`audit verify` and `apikey` work from any shell with the gateway's Secret in its environment
without the gateway's sign-in configuration. Secrets come from the environment, never argv
(argv is visible to every user of the machine through `ps`).
"""

from __future__ import annotations

import base64
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_gateway.audit_chain import PUBLIC_CHAIN_KEY
from crm_gateway.config import GatewaySettings

_GATEWAY_DEFAULT_URL = str(GatewaySettings.model_fields["database_url"].default)


class AdminGatewaySettings(BaseSettings):
    """The gateway's store, audit chain key and API keys file, as the gateway reads them."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    deployment_environment: str = "local"
    database_url: str = _GATEWAY_DEFAULT_URL
    audit_chain_key: str = ""
    api_keys_file: Path | None = None
    api_key_pepper: str = ""

    def chain_key(self) -> bytes:
        """Return the audit chain key; the public fallback only outside staging and prod."""
        if self.audit_chain_key:
            return base64.b64decode(self.audit_chain_key, validate=True)
        if self.deployment_environment.lower() in {"staging", "prod", "production"}:
            raise ValueError(f"AUDIT_CHAIN_KEY is required in {self.deployment_environment}")
        return PUBLIC_CHAIN_KEY
