"""Validation report of the rating model over two periods of one seed's book.

Run ``python -m crm_sim.rating.validate --seed N [--clients 4000] [--version V]`` (the
service's default scorecard unless V is given). For each period (rated at the ends of fiscal
2024 and 2025, outcomes in the following year): discrimination (AUC, Gini, KS), a binomial
test per grade and per grade band, and the Hosmer–Lemeshow test over grades; then the
population stability index of the grade distribution between the periods and the
rating-migration matrix of the clients rated in both.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from crm_risk.rating.model.scale import MASTER_SCALES
from crm_risk.rating.model.scorecard import DEFAULT
from crm_risk.rating.model.scorecard_config import SCORECARDS
from crm_sim.rating.book import RATING_YEARS
from crm_sim.rating.evaluate import Rated, rate_book, summary
from crm_sim.rating.stats import hosmer_lemeshow, migration_matrix, population_stability


def hosmer_lemeshow_line(rated: Sequence[Rated]) -> str:
    """Return the Hosmer–Lemeshow test over the grades the period uses."""
    groups = []
    for grade in {r.result.grade for r in rated}:
        members = [r for r in rated if r.result.grade == grade]
        groups.append((len(members), sum(r.observation.defaulted for r in members),
                       sum(r.result.pd for r in members) / len(members)))
    hl = hosmer_lemeshow(groups)
    return (f"Hosmer-Lemeshow over {hl.dof} grades: statistic {hl.statistic:.1f}, "
            f"p-value {hl.p_value:.3f}")


def _distribution(rated: Sequence[Rated]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rated:
        counts[r.result.grade] = counts.get(r.result.grade, 0) + 1
    return counts


def migration_lines(first: Sequence[Rated], second: Sequence[Rated]) -> list[str]:
    """Return the migration matrix (rows: first period grade) of clients rated twice."""
    later = {r.observation.firm: r.result.grade for r in second}
    pairs = [(r.result.grade, later[r.observation.firm]) for r in first
             if r.observation.firm in later]
    grades = [g for g in MASTER_SCALES[first[0].result.master_scale_version].grades
              if any(g in pair for pair in pairs)]
    matrix = migration_matrix(pairs, grades)
    stayed = sum(matrix[g][g] for g in grades)
    within_one = sum(matrix[a][b] for a in grades for b in grades
                     if abs(grades.index(a) - grades.index(b)) <= 1)
    lines = [f"Migration of {len(pairs)} clients rated in both periods "
             f"(same grade {stayed / len(pairs):.1%}, within one notch "
             f"{within_one / len(pairs):.1%}):",
             "from\\to " + "".join(f"{g:>6}" for g in grades)]
    lines += [f"{a:<8}" + "".join(f"{matrix[a][b]:>6}" for b in grades) for a in grades]
    return lines


def report(seed: int, *, n_clients: int, version: str = DEFAULT) -> list[str]:
    """Return the full two-period validation report of a seed's book."""
    rated = rate_book(seed, n_clients=n_clients, version=version)
    lines = [f"Validation report, seed {seed}, scorecard "
             f"{rated[RATING_YEARS[0]][0].result.scorecard_version}", ""]
    for year in RATING_YEARS:
        lines += summary(rated[year], title=f"== Period {year}: rated at the end of {year}, "
                                            f"outcomes in {year + 1}")
        lines += [hosmer_lemeshow_line(rated[year]), ""]
    first, second = (rated[y] for y in RATING_YEARS)
    psi = population_stability(_distribution(first), _distribution(second))
    verdict = "stable" if psi < 0.1 else "some shift" if psi < 0.25 else "significant shift"
    lines += [f"Population stability of the grade distribution {RATING_YEARS[0]} -> "
              f"{RATING_YEARS[1]}: PSI {psi:.3f} ({verdict})", ""]
    lines += migration_lines(first, second)
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Print the validation report."""
    parser = argparse.ArgumentParser(prog="python -m crm_sim.rating.validate",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--clients", type=int, default=4000)
    parser.add_argument("--version", default=DEFAULT, choices=sorted(SCORECARDS))
    args = parser.parse_args(argv)
    print("\n".join(report(args.seed, n_clients=args.clients, version=args.version)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
