"""Apply the client service's migrations: `python -m crm_client.migrate` (initContainer)."""

from __future__ import annotations

from crm_client.app import migrate
from crm_client.config import ClientSettings

if __name__ == "__main__":
    migrate(ClientSettings())
