"""Apply the client service's migrations: `python -m crm_client.migrate` (initContainer)."""

from crm_client.app import SPEC
from crm_runtime import kit

if __name__ == "__main__":
    kit.migrate_main(SPEC)
