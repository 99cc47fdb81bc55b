"""Back-test the scorecard on synthetic history and print its discrimination.

Run ``python -m crm_risk.rating.report [--clients 5000] [--seed 7] [--years 3]``.
Each client is rated on its last statement (with the one before for trends), and the
rating is compared with whether the client defaulted in the following 12 months.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

from crm_risk.rating.evaluate import (
    Discrimination,
    GradeOutcome,
    discrimination,
    fit_logistic_calibration,
    grade_outcomes,
)
from crm_risk.rating.ratios import compute_ratios
from crm_risk.rating.scale import MASTER_SCALES
from crm_risk.rating.scorecard import DEFAULT, RatingInputs, RatingResult, rate
from crm_risk.rating.scorecard_config import SCORECARDS
from crm_risk.rating.synthetic import HistoryRecord, generate_history


@dataclass(frozen=True)
class Backtest:
    """Outcome statistics of one back-test run."""

    clients: int
    defaults: int
    discrimination: Discrimination | None  # None when the sample lacks either outcome
    by_grade: dict[str, GradeOutcome]
    # Logistic calibration refitted on this sample, for comparison with the config.
    fitted_calibration: tuple[float, float] | None
    scorecard_version: str

    @property
    def default_rate(self) -> float:
        """Return the observed default rate of the sample."""
        return self.defaults / self.clients if self.clients else 0.0


def inputs_for(record: HistoryRecord) -> RatingInputs:
    """Return the scorecard inputs a rater would have had at the record's rating date."""
    statements = record.statements
    previous = statements[-2] if len(statements) > 1 else None
    return RatingInputs(
        industry_code=record.industry_code,
        ratios=compute_ratios(statements[-1], previous),
        repayment=record.repayment,
        signals=record.signals,
        floating_rate_debt_share=record.floating_rate_debt_share,
        fx_revenue_share=record.fx_revenue_share,
        open_warning_level=record.open_warning_level,
        has_npl_facility=False,
        audit_opinion=statements[-1].audit_opinion,
    )


def run_backtest(
    *, n_clients: int, seed: int, years: int = 3, version: str = DEFAULT
) -> Backtest:
    """Generate a history, rate every client and measure the ratings against outcomes."""
    history = generate_history(n_clients=n_clients, seed=seed, years=years)
    results: list[RatingResult] = [rate(inputs_for(r), version=version) for r in history]
    outcomes = [r.defaulted_next_12m for r in history]
    defaults = sum(outcomes)
    both = 0 < defaults < len(outcomes)
    return Backtest(
        clients=len(history),
        defaults=defaults,
        discrimination=discrimination([r.pd for r in results], outcomes) if both else None,
        by_grade=grade_outcomes([r.grade for r in results], outcomes,
                                version=SCORECARDS[version].master_scale_version),
        fitted_calibration=(
            fit_logistic_calibration([r.score for r in results], outcomes) if both else None
        ),
        scorecard_version=version,
    )


def format_report(bt: Backtest, *, seed: int) -> str:
    """Return the back-test as a plain-text report."""
    config = SCORECARDS[bt.scorecard_version]
    scale = MASTER_SCALES[config.master_scale_version]
    lines = [
        f"Rating back-test: {bt.clients} clients, seed {seed}, "
        f"scorecard {config.version}, master scale {scale.version}",
        f"Default rate: {bt.default_rate:.2%} ({bt.defaults} defaults)",
    ]
    if bt.discrimination is None:
        lines.append("AUC/Gini/KS: n/a (the sample needs defaults and non-defaults)")
    else:
        d = bt.discrimination
        lines.append(f"AUC {d.auc:.3f}  Gini {d.gini:.3f}  KS {d.ks:.3f}")
    if bt.fitted_calibration is not None:
        a, b = bt.fitted_calibration
        lines.append(f"Calibration refitted here: intercept {a:.3f}, slope {b:.4f} "
                     f"(configured {config.intercept:.3f}, {config.slope:.4f})")
    lines += ["", f"{'Grade':<7}{'Clients':>9}{'Share':>8}{'Defaults':>10}"
                  f"{'Observed DR':>13}  Scale PD band"]
    for grade, outcome in bt.by_grade.items():
        band = scale.band(grade)
        share = outcome.count / bt.clients if bt.clients else 0.0
        rate_text = "-" if outcome.default_rate is None else f"{outcome.default_rate:.2%}"
        lines.append(
            f"{grade:<7}{outcome.count:>9}{share:>8.1%}{outcome.defaults:>10}"
            f"{rate_text:>13}  {band.pd_low:.2%}-{band.pd_high:.2%}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the back-test from the command line and print the report; return 0."""
    parser = argparse.ArgumentParser(prog="python -m crm_risk.rating.report",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=5000, help="number of clients")
    parser.add_argument("--seed", type=int, default=7, help="generator seed")
    parser.add_argument("--years", type=int, default=3, help="annual statements per client")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.years < 1:
        parser.error("--clients and --years must be at least 1")
    bt = run_backtest(n_clients=args.clients, seed=args.seed, years=args.years)
    print(format_report(bt, seed=args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
