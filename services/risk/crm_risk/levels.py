"""Warning levels (blue < yellow < orange < red).

DOMAIN §7: red = diversion, fraud or default; orange = material deterioration; yellow = early
deterioration; blue = minor or unconfirmed. How a monitoring hit's level is set:
``crm_risk.monitoring.engine.severity``.
"""

from __future__ import annotations

LEVELS: tuple[str, ...] = ("blue", "yellow", "orange", "red")
LEVEL_RANK: dict[str, int] = {level: rank for rank, level in enumerate(LEVELS)}


def up(level: str) -> str:
    """Return the next level up (red stays red)."""
    return LEVELS[min(LEVEL_RANK[level] + 1, len(LEVELS) - 1)]
