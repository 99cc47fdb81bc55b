"""Apply the gateway's migrations: `python -m crm_gateway.migrate` (initContainer)."""

from __future__ import annotations

from crm_gateway.app import migrate
from crm_gateway.config import GatewaySettings

if __name__ == "__main__":
    migrate(GatewaySettings())
