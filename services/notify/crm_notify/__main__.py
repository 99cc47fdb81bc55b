"""Run the notification service: `python -m crm_notify`."""

from crm_notify.app import SPEC
from crm_runtime import kit

if __name__ == "__main__":
    kit.main(SPEC)
