"""Warning levels (blue < yellow < orange < red) and how concurrent signals combine.

DOMAIN §7: red = diversion, fraud or default; orange = material deterioration; yellow = early
deterioration; blue = minor or unconfirmed. Signals that coincide on one client corroborate each
other, so the combined level can be higher than any single one.
"""

from __future__ import annotations

from collections.abc import Iterable

LEVELS: tuple[str, ...] = ("blue", "yellow", "orange", "red")
LEVEL_RANK: dict[str, int] = {level: rank for rank, level in enumerate(LEVELS)}

# Three unconfirmed (blue) signals together are treated like one early-deterioration signal.
BLUES_FOR_YELLOW = 3


def combined_level(levels: Iterable[str]) -> str:
    """Return the level of a client's concurrent signals, one level per distinct signal.

    Rules, first match wins:
    - any red, or an orange together with any other signal -> red;
    - one orange alone, or two or more yellows -> orange;
    - one yellow (with or without blues), or three or more blues -> yellow;
    - otherwise (one or two blues) -> blue.

    Pass one level per distinct active signal (rule and window), not per repeated alert.
    Raise ``ValueError`` for an empty input or an unknown level name.
    """
    counts = dict.fromkeys(LEVELS, 0)
    for level in levels:
        if level not in LEVEL_RANK:
            msg = f"unknown level {level!r}; expected one of {', '.join(LEVELS)}"
            raise ValueError(msg)
        counts[level] += 1
    total = sum(counts.values())
    if total == 0:
        msg = "combined_level needs at least one level"
        raise ValueError(msg)
    if counts["red"] or (counts["orange"] and total >= 2):
        return "red"
    if counts["orange"] or counts["yellow"] >= 2:
        return "orange"
    if counts["yellow"] or counts["blue"] >= BLUES_FOR_YELLOW:
        return "yellow"
    return "blue"
