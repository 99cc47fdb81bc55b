"""Apply the feedback service's migrations: `python -m crm_feedback.migrate` (initContainer)."""

from crm_feedback.app import SPEC
from crm_runtime import kit

if __name__ == "__main__":
    kit.migrate_main(SPEC)
