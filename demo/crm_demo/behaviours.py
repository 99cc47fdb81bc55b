"""Choose each client's behavioural archetype and the revenue growth that goes with it.

An archetype fixes how the client's accounts move (see ``activity``) and how its revenue
changed year on year. High-value clients are drawn first, and only among large and
medium firms with revenue of 2亿 or more (a 2,000万 average balance must be plausible
for them); project-finance borrowers have an archetype of their own. The others are
drawn from base weights tilted by sector and size: developers decline more often, young
firms are mostly in software and rarely large, traders are more often dormant.
"""

from __future__ import annotations

import random
from typing import Final, Literal

from crm_client.domain.size_class import SizeClassName

Behaviour = Literal[
    "high_value", "growth", "stable", "young", "dormant", "declining", "collapsing",
    "project_finance",
]  # fmt: skip

BEHAVIOURS: Final[tuple[Behaviour, ...]] = (
    "high_value", "growth", "stable", "young", "dormant", "declining", "collapsing",
    "project_finance",
)  # fmt: skip

PROJECT_FINANCE_SHARE: Final = 0.05
"""Share of the book lent against a financed project's cash flows."""

HIGH_VALUE_SHARE_BY_SIZE: Final[dict[SizeClassName, float]] = {
    "large": 0.6, "medium": 0.25, "small": 0.0, "micro": 0.0,
}  # fmt: skip
"""Chance of being high-value for a firm whose revenue reaches HIGH_VALUE_MIN_REVENUE_YUAN."""
HIGH_VALUE_MIN_REVENUE_YUAN: Final = 200_000_000

_BASE_WEIGHTS: Final[dict[Behaviour, float]] = {
    "growth": 16.0,
    "stable": 40.0,
    "young": 9.0,
    "dormant": 11.0,
    "declining": 10.0,
    "collapsing": 5.0,
}
_SECTION_TILTS: Final[dict[str, dict[Behaviour, float]]] = {
    "K": {"declining": 2.0, "collapsing": 2.5, "young": 0.5},
    "I": {"young": 2.5, "growth": 1.5},
    "D": {"stable": 1.5, "collapsing": 0.3},
    "F": {"dormant": 1.5},
    "C": {"growth": 1.2},
}
_SIZE_TILTS: Final[dict[SizeClassName, dict[Behaviour, float]]] = {
    "large": {"young": 0.2, "dormant": 0.4},
    "micro": {"young": 1.5},
}

# Year-on-year revenue growth (0.2 = +20%) per archetype.
GROWTH_RANGES: Final[dict[Behaviour, tuple[float, float]]] = {
    "high_value": (-0.05, 0.20),
    "growth": (0.21, 0.60),
    "stable": (-0.08, 0.15),
    "young": (0.30, 1.50),
    "dormant": (-0.30, 0.05),
    "declining": (-0.30, 0.05),
    "collapsing": (-0.55, -0.15),
    "project_finance": (-0.05, 0.12),
}

PROJECT_FINANCE_PROFILE: Final = "project_finance_spv"


def draw_behaviour(
    rng: random.Random, *, section: str, size_class: SizeClassName, revenue_yuan: int
) -> Behaviour:
    """Return the archetype of a client that is not a project-finance borrower."""
    high_value_chance = HIGH_VALUE_SHARE_BY_SIZE[size_class]
    if revenue_yuan >= HIGH_VALUE_MIN_REVENUE_YUAN and rng.random() < high_value_chance:
        return "high_value"
    section_tilt = _SECTION_TILTS.get(section, {})
    size_tilt = _SIZE_TILTS.get(size_class, {})
    names = list(_BASE_WEIGHTS)
    weights = [
        _BASE_WEIGHTS[name] * section_tilt.get(name, 1.0) * size_tilt.get(name, 1.0)
        for name in names
    ]
    return rng.choices(names, weights=weights)[0]


def profile_label(behaviour: Behaviour, section_noun: str) -> str:
    """Return the hidden profile label, e.g. "declining_real_estate" or "project_finance_spv"."""
    if behaviour == "project_finance":
        return PROJECT_FINANCE_PROFILE
    return f"{behaviour}_{section_noun}"
