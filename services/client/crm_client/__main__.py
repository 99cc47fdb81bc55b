"""Run the client-profile service: `python -m crm_client`."""

from crm_client.app import SPEC
from crm_runtime import kit

if __name__ == "__main__":
    kit.main(SPEC)
