"""Apply the risk service's migrations: `python -m crm_risk.migrate` (initContainer)."""

from crm_risk.app import SPEC
from crm_runtime import kit

if __name__ == "__main__":
    kit.migrate_main(SPEC)
