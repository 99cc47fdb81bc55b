"""Apply the notification service's migrations: `python -m crm_notify.migrate` (initContainer)."""

from __future__ import annotations

from crm_notify.app import migrate
from crm_notify.config import NotifySettings

if __name__ == "__main__":
    migrate(NotifySettings())
