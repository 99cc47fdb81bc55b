"""Apply the notification service's migrations: `python -m crm_notify.migrate` (initContainer)."""

from crm_notify.app import SPEC
from crm_runtime import kit

if __name__ == "__main__":
    kit.migrate_main(SPEC)
