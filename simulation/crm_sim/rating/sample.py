"""Turn synthetic books into rating observations: features at a rating date and the outcome.

An observation is what a bank knows at the end of fiscal year ``year`` (up to three
statements, the client's industry and size class) and whether the client defaulted in the
following twelve months. The development / hold-out split is by firm, so a firm's two
periods never sit on both sides.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from crm_risk.rating.model.features import RatingFeatures, rating_features
from crm_risk.rating.model.industry import industry_group
from crm_risk.rating.model.statements import FinancialStatement
from crm_sim.rating.book import RATING_YEARS, Book, FirmHistory, generate_book


@dataclass(frozen=True)
class Observation:
    """One client at one rating date."""

    seed: int
    year: int
    firm: int
    industry_code: str
    group: str
    size_class: str
    statements: tuple[FinancialStatement, ...]
    features: RatingFeatures
    defaulted: bool


def observe(seed: int, year: int, firm: FirmHistory) -> Observation:
    """Return the observation of a performing firm at the end of fiscal ``year``."""
    statements = firm.statements_up_to(year)
    return Observation(
        seed=seed, year=year, firm=firm.index, industry_code=firm.spec.industry_code,
        group=industry_group(firm.spec.industry_code), size_class=firm.spec.size_class,
        statements=statements, features=rating_features(statements),
        defaulted=firm.defaulted_in(year + 1),
    )


def book_observations(book: Book, year: int) -> list[Observation]:
    """Return every performing firm's observation at the end of ``year``."""
    return [observe(book.seed, year, f) for f in book.performing(year)]


def observations(
    seeds: Iterable[int], *, n_clients: int, years: Sequence[int] = RATING_YEARS,
) -> list[Observation]:
    """Generate a book per seed and observe it at each rating year."""
    found: list[Observation] = []
    for seed in seeds:
        book = generate_book(seed=seed, n_clients=n_clients)
        for year in years:
            found += book_observations(book, year)
    return found


def in_holdout(observation: Observation, *, share: float = 0.3) -> bool:
    """Return True when the observation's firm belongs to the hold-out sample."""
    digest = hashlib.sha256(f"{observation.seed}:{observation.firm}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


def split(sample: Sequence[Observation]) -> tuple[list[Observation], list[Observation]]:
    """Return (development, hold-out) parts of a sample, split by firm."""
    development = [o for o in sample if not in_holdout(o)]
    holdout = [o for o in sample if in_holdout(o)]
    return development, holdout
