"""Run the risk service: `python -m crm_risk`."""

from crm_risk.app import SPEC
from crm_runtime import kit

if __name__ == "__main__":
    kit.main(SPEC)
