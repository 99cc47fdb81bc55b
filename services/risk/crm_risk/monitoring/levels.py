"""Warning levels (blue < yellow < orange < red).

DOMAIN §7: red = diversion, fraud or default; orange = material deterioration; yellow = early
deterioration; blue = minor or unconfirmed. How a hit's level is set: ``severity``.
"""

from __future__ import annotations

LEVELS: tuple[str, ...] = ("blue", "yellow", "orange", "red")
LEVEL_RANK: dict[str, int] = {level: rank for rank, level in enumerate(LEVELS)}
