"""Settings of the client-profile service."""

from __future__ import annotations

from pydantic import model_validator

from crm_runtime.config import BaseServiceSettings


class ClientSettings(BaseServiceSettings):
    """Client service settings; personal-data keys are mandatory."""

    service_name: str = "client"
    grpc_port: int = 50061
    database_url: str = "sqlite+aiosqlite:///var/client.db"
    # GetClient row cache; it only ever turns on for SQLite (see crm_runtime.readcache).
    read_cache: bool = True

    @model_validator(mode="after")
    def _keys_present(self) -> ClientSettings:
        if self.pii_keys() is None or not self.pii_index_key:
            raise ValueError("PII_KEYRING (or PII_ENCRYPTION_KEY) and PII_INDEX_KEY are required")
        return self
