"""Apply the feedback service's migrations: `python -m crm_feedback.migrate` (initContainer)."""

from __future__ import annotations

from crm_feedback.app import migrate
from crm_feedback.config import FeedbackSettings

if __name__ == "__main__":
    migrate(FeedbackSettings())
