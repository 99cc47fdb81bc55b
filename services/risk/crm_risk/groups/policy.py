"""When contagion starts and how far it reaches (settings CONTAGION_GRADE, CONTAGION_DEPTH)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from crm_risk.rating.model.scale import grade_rank, is_grade

if TYPE_CHECKING:
    from crm_risk.config import RiskSettings

# Warnings that are themselves links to other clients' trouble never start contagion.
LINKED_RULES = frozenset({"contagion", "guarantee_circle"})


@dataclass(frozen=True)
class Policy:
    """When contagion starts and how far it reaches."""

    grade: str = "B-"
    depth: int = 2

    @classmethod
    def of(cls, settings: RiskSettings) -> Policy:
        """Return the configured policy."""
        return cls(grade=settings.contagion_grade, depth=settings.contagion_depth)

    def downgrade_triggers(self, previous: str, grade: str) -> bool:
        """Return True when a rating falls from above the trigger grade to it or below."""
        if not (previous and is_grade(previous) and is_grade(grade) and is_grade(self.grade)):
            return False
        line = grade_rank(self.grade)
        return grade_rank(previous) < line <= grade_rank(grade)


DEFAULT = Policy()
