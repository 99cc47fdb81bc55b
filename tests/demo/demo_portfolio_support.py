"""Share one generated default portfolio between the demo test modules.

Not a test module: the demo test files import it (pytest puts this folder on sys.path
because tests folders have no __init__.py). Generating 1,200 clients takes about a second,
so it is done once per session.
"""

from __future__ import annotations

from datetime import date
from functools import cache

from google.type import date_pb2

from crm_demo import PortfolioClient, generate_portfolio
from crm_demo.expectations import to_date

AS_OF = date(2026, 11, 28)
N = 1200


@cache
def default_portfolio() -> tuple[PortfolioClient, ...]:
    """Return the default portfolio (1,200 clients, default seed, as of 2026-11-28)."""
    return tuple(generate_portfolio(n_clients=N, as_of=AS_OF))


def share(count: int, total: int = N) -> float:
    """Return ``count`` as a percentage of ``total``."""
    return 100.0 * count / total


def day(message: date_pb2.Date) -> date:
    """Return the date of a google.type.Date that must be set."""
    value = to_date(message)
    assert value is not None, "date is unset"
    return value
