"""Apply the risk service's migrations: `python -m crm_risk.migrate` (initContainer)."""

from __future__ import annotations

from crm_risk.app import migrate
from crm_risk.config import RiskSettings

if __name__ == "__main__":
    migrate(RiskSettings())
