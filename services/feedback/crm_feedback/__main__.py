"""Run the feedback service: `python -m crm_feedback`."""

from crm_feedback.app import SPEC
from crm_runtime import kit

if __name__ == "__main__":
    kit.main(SPEC)
