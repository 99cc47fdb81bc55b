"""Back-test the rating engine on a synthetic book: statements only, as a reviewer would.

Run ``python -m crm_sim.rating.evaluate --seed N [--clients 4000] [--year 2024]
[--version SC-2027.3]``. Each
client is rated by the risk service's own engine from its statements alone (no repayment
history, no signals, no warnings, so no caps), and the ratings are compared with whether
the client defaulted in the following twelve months. Report on a seed that was never used
to build or tune anything (see docs/RISK.md for the seeds in use).

Grade bands are tested twice: with the plain binomial interval (defaults independent) and
with the interval that allows for the cycle all firms share (``systematic``), at the asset
correlation the scorecard's calibration worlds imply.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from crm_risk.rating.model.features import STARTUP_YEARS
from crm_risk.rating.model.ratio_warnings import assess
from crm_risk.rating.model.scale import MASTER_SCALES
from crm_risk.rating.model.scorecard import DEFAULT, RatingInputs, RatingResult, rate
from crm_risk.rating.model.scorecard_config import SCORECARDS
from crm_risk.rating.model.scorecard_model import load_model
from crm_sim.rating.book import RATING_YEARS, generate_book
from crm_sim.rating.calibration import CALIBRATION_CLIENTS
from crm_sim.rating.monotonic import monotonicity_test
from crm_sim.rating.sample import Observation, book_observations
from crm_sim.rating.stats import binomial_interval, discrimination
from crm_sim.rating.systematic import correlated_interval, implied_correlation

# Grade bands for the calibration test: enough clients per band for a binomial test.
BANDS: Final = (
    ("AAA to A-", ("AAA", "AA+", "AA", "AA-", "A+", "A", "A-")),
    ("BBB+ to BBB-", ("BBB+", "BBB", "BBB-")),
    ("BB+ to BB-", ("BB+", "BB", "BB-")),
    ("B+ to B-", ("B+", "B", "B-")),
    ("CCC+ to CCC-C", ("CCC+", "CCC-C")),
)
REFINANCING_DEPENDENT: Final = 0.10  # (short-term funding − cash) / assets above this
MONOTONE_ALPHA: Final = 0.05  # inversions rarer than this under monotone rates: not ordered


@dataclass(frozen=True)
class Rated:
    """One observation with its rating and its ratio-warning level."""

    observation: Observation
    result: RatingResult
    warning_level: str


def rate_observation(o: Observation, *, version: str = DEFAULT) -> Rated:
    """Rate one observation from its statements alone and judge its ratios."""
    result = rate(RatingInputs(industry_code=o.industry_code, features=o.features,
                               size_class=o.size_class,
                               audit_opinion=o.statements[-1].audit_opinion), version=version)
    level = assess(o.features.ratios, industry_code=o.industry_code,
                   size_class=o.size_class).level
    return Rated(o, result, level)


def rate_book(seed: int, *, n_clients: int, years: Sequence[int] = RATING_YEARS,
              version: str = DEFAULT) -> dict[int, list[Rated]]:
    """Return every performing client's rating per rating year of a seed's book."""
    book = generate_book(seed=seed, n_clients=n_clients)
    return {year: [rate_observation(o, version=version) for o in book_observations(book, year)]
            for year in years}


def _row(label: str, rated: Sequence[Rated], total: int, rho: float | None = None) -> str:
    """Return one table line; with ``rho``, also the interval that allows for the cycle."""
    n = len(rated)
    defaults = sum(r.observation.defaulted for r in rated)
    if n == 0:
        return f"{label:<14}{0:>7}"
    mean_pd = sum(r.result.pd for r in rated) / n
    low, high = binomial_interval(n, mean_pd)
    line = (f"{label:<14}{n:>7}{n / total:>8.1%}{defaults:>9}{defaults / n:>9.2%}"
            f"{mean_pd:>9.2%}   [{low:>3}, {high:>3}]  {_inside(low, defaults, high)}")
    if rho is None:
        return line
    low, high = correlated_interval(n, mean_pd, rho)
    return f"{line}     [{low:>3}, {high:>3}]  {_inside(low, defaults, high)}"


def _inside(low: int, defaults: int, high: int) -> str:
    return "yes" if low <= defaults <= high else "NO"


HEADER: Final = (f"{'grade':<14}{'clients':>7}{'share':>8}{'defaults':>9}{'DR':>9}"
                 f"{'mean PD':>9}   95% binomial  inside")


def cycle_correlation(version: str) -> float:
    """Return the asset correlation implied by the calibration worlds of a scorecard."""
    rates = load_model(version).provenance["yearly_default_rates"]
    return implied_correlation(rates, CALIBRATION_CLIENTS)


def grade_table(rated: Sequence[Rated]) -> list[str]:
    """Return per-grade and per-band lines: counts, observed DR, mean PD, binomial test;
    bands also with the binomial test that allows for the cycle (``systematic``)."""
    scale = MASTER_SCALES[rated[0].result.master_scale_version] if rated else None
    grades = scale.grades if scale else ()
    lines = [HEADER]
    lines += [_row(g, [r for r in rated if r.result.grade == g], len(rated))
              for g in grades if any(r.result.grade == g for r in rated)]
    rho = cycle_correlation(rated[0].result.scorecard_version) if rated else 0.0
    lines += ["", HEADER.replace("grade ", "band  ", 1) + f"   with the cycle (rho {rho:.2%})"]
    lines += [_row(name, [r for r in rated if r.result.grade in members], len(rated), rho)
              for name, members in BANDS]
    return lines


def band_rates_monotonic(rated: Sequence[Rated]) -> bool:
    """Return True when observed default rates never fall from a better band to a worse."""
    rates = []
    for _, members in BANDS:
        group = [r for r in rated if r.result.grade in members]
        if group:
            rates.append(sum(r.observation.defaulted for r in group) / len(group))
    return all(a <= b for a, b in itertools.pairwise(rates))


def grade_monotonicity(rated: Sequence[Rated]) -> str:
    """Return the monotonicity test of default rates by single grade as a report line."""
    scale = MASTER_SCALES[rated[0].result.master_scale_version] if rated else None
    groups = []
    for grade in scale.grades if scale else ():
        mine = [r for r in rated if r.result.grade == grade]
        if mine:
            groups.append((len(mine), sum(r.observation.defaulted for r in mine)))
    test = monotonicity_test(groups)
    verdict = "consistent with monotone" if test.p_value >= MONOTONE_ALPHA else "NOT monotone"
    return (f"default rates by grade: {test.inversions} inversion(s) between neighbours; "
            f"distance from the closest monotone rates LR {test.statistic:.2f}, "
            f"p {test.p_value:.3f} ({test.draws} bootstrap draws): {verdict}")


def _segment(label: str, rated: Sequence[Rated]) -> str:
    if not rated:
        return f"{label}: none"
    defaults = sum(r.observation.defaulted for r in rated)
    mean_pd = sum(r.result.pd for r in rated) / len(rated)
    return (f"{label}: {len(rated)} clients, observed {defaults / len(rated):.2%}, "
            f"mean PD {mean_pd:.2%}")


def summary(rated: Sequence[Rated], *, title: str) -> list[str]:
    """Return the evaluation of one period's ratings as report lines."""
    outcomes = [r.observation.defaulted for r in rated]
    d = discrimination([r.result.pd for r in rated], outcomes)
    mean_pd = sum(r.result.pd for r in rated) / len(rated)
    warned = [r for r in rated if r.warning_level != "none"]
    red = [r for r in rated if r.warning_level == "red"]
    return [
        title,
        f"clients {d.n}, defaults {d.defaults} ({d.defaults / d.n:.2%}), mean PD {mean_pd:.2%}",
        f"AUC {d.auc:.3f}  Gini {d.gini:.3f}  KS {d.ks:.3f}",
        f"ratio warnings: {len(warned) / len(rated):.1%} of clients "
        f"(red {len(red) / len(rated):.1%}); grades capped: "
        f"{sum(bool(r.result.caps_applied) for r in rated)}",
        _segment("start-ups (under 3 years or one statement)",
                 [r for r in rated if r.observation.features.firm_age_years < STARTUP_YEARS]),
        _segment("one statement", [r for r in rated if r.observation.features.statements == 1]),
        _segment(f"refinancing gap over {REFINANCING_DEPENDENT:.0%} of assets",
                 [r for r in rated if (r.observation.features.ratios.refinancing_gap or 0.0)
                  > REFINANCING_DEPENDENT]),
        "",
        *grade_table(rated),
        f"default rates monotonic by band: {'yes' if band_rates_monotonic(rated) else 'NO'}",
        grade_monotonicity(rated),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Rate a seed's book and print the evaluation of one rating year."""
    parser = argparse.ArgumentParser(prog="python -m crm_sim.rating.evaluate",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--clients", type=int, default=4000)
    parser.add_argument("--year", type=int, default=RATING_YEARS[0], choices=RATING_YEARS)
    parser.add_argument("--version", default=DEFAULT, choices=sorted(SCORECARDS))
    args = parser.parse_args(argv)
    rated = rate_book(args.seed, n_clients=args.clients, years=(args.year,),
                      version=args.version)[args.year]
    print("\n".join(summary(rated, title=f"Seed {args.seed}, {args.version}, rated at the end "
                                         f"of {args.year}, outcomes in {args.year + 1} "
                                         "(statements only)")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
