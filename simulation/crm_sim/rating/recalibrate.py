"""Publish a scorecard version whose PDs follow a calibration curve fitted on other worlds.

Run ``python -m crm_sim.rating.recalibrate [--base SC-2027.2] [--version SC-2027.3]``. The
base version's factors, coefficients and calibrated intercept are kept as they are, so
scores, points and reason codes do not change; only the map from the score to the PD does.

1. Calibration sample: the books of CALIBRATION_SEEDS (201-212, the worlds that set the
   long-run default rate; never used to fit a factor, never held out), SAMPLE_CLIENTS firms
   each, rated at both rating dates from statements alone with the base version. Larger
   books than the long-run rate used (2,000 firms) give the thin best and worst grades more
   defaults; the first 2,000 firms of each book are the same firms.
2. The curve forms of ``curves`` are compared by leave-one-world-out cross-validation: each
   is fitted on eleven worlds and scored (log-likelihood) on the twelfth, so a flexible form
   gains nothing by fitting one world's noise.
3. The floor form (``crm_risk.rating.model.pd_curve``) is fitted on all twelve worlds and written
   into ``fitted/<version>.json`` with its standard errors, the comparison and the observed
   default rate against the mean PD per grade band before and after.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from crm_risk.rating.model.pd_curve import CalibrationCurve
from crm_risk.rating.model.scale import grade_for_pd
from crm_risk.rating.model.scorecard_model import FITTED_DIR, load_model
from crm_sim.rating.calibration import CALIBRATION_SEEDS
from crm_sim.rating.curves import (
    PD_FLOOR,
    CurveFit,
    cells,
    fit_curve,
    isotonic_knots,
    isotonic_pd,
    log_likelihood,
)
from crm_sim.rating.evaluate import BANDS, rate_book

SAMPLE_CLIENTS: Final = 5000

Sample = dict[int, list[tuple[float, bool]]]  # seed -> (base log-odds, defaulted)


def calibration_sample(base: str, seeds: Sequence[int], n_clients: int) -> Sample:
    """Return each world's (log-odds under ``base``, defaulted) pairs, both rating years."""
    model = load_model(base)
    found: Sample = {}
    for seed in seeds:
        rated = rate_book(seed, n_clients=n_clients, version=base)
        found[seed] = [(model.log_odds(r.result.score), r.observation.defaulted)
                       for year in sorted(rated) for r in rated[year]]
    return found


def _logistic(z: float) -> float:
    return CalibrationCurve().pd(z)


def _fitted_pd(form: str, pairs: Sequence[tuple[float, bool]]) -> Callable[[float], float]:
    """Return the PD function of ``form`` fitted on ``pairs``."""
    if form == "identity":
        return _logistic
    if form == "isotonic":
        knots = isotonic_knots(pairs)
        return lambda z: isotonic_pd(knots, z)
    return fit_curve(cells(pairs), with_floor=form == "floor").curve.pd


FORMS: Final = ("identity", "linear", "floor", "isotonic")


def cross_validation(sample: Sample) -> dict[str, float]:
    """Return each form's log-likelihood on every world when fitted on the others."""
    totals = dict.fromkeys(FORMS, 0.0)
    for seed, held in sample.items():
        rest = [p for other, pairs in sample.items() if other != seed for p in pairs]
        for form in FORMS:
            totals[form] += log_likelihood(_fitted_pd(form, rest), cells(held))
    return totals


def band_table(pairs: Sequence[tuple[float, bool]], pd: Callable[[float], float]
               ) -> list[dict[str, Any]]:
    """Return clients, defaults, observed rate and mean PD per grade band under ``pd``."""
    rows = []
    graded = [(max(pd(z), PD_FLOOR), d) for z, d in pairs]
    for name, members in BANDS:
        inside = [(p, d) for p, d in graded if grade_for_pd(p) in members]
        n = len(inside)
        rows.append({"band": name, "clients": n, "defaults": sum(d for _, d in inside),
                     "default_rate": round(sum(d for _, d in inside) / n, 5) if n else None,
                     "mean_pd": round(sum(p for p, _ in inside) / n, 5) if n else None})
    return rows


def _curve_json(fit: CurveFit) -> dict[str, Any]:
    curve = fit.curve
    return {"form": "floor_logistic", "floor": round(curve.floor, 6),
            "intercept": round(curve.intercept, 6), "slope": round(curve.slope, 6),
            "standard_errors": {k: round(v, 4) for k, v in fit.standard_errors.items()}}


def recalibrate(*, base: str, version: str, seeds: Sequence[int], n_clients: int
                ) -> dict[str, Any]:
    """Return the document of ``version``: ``base`` with the fitted calibration curve."""
    sample = calibration_sample(base, seeds, n_clients)
    pairs = [p for seed in seeds for p in sample[seed]]
    fit = fit_curve(cells(pairs), with_floor=True)
    # Kept for the record: the two-parameter recalibration the floor form was chosen over.
    linear = fit_curve(cells(pairs), with_floor=False)
    curve = CalibrationCurve(**{k: v for k, v in _curve_json(fit).items()
                                if k in {"floor", "intercept", "slope"}})
    document: dict[str, Any] = json.loads(
        (FITTED_DIR / f"{base}.json").read_text(encoding="utf-8"))
    document["version"] = version
    document["calibration_curve"] = _curve_json(fit)
    document["provenance"]["calibration_curve"] = {
        "method": "PD = floor + (1 - floor) * sigmoid(intercept + slope * log-odds of "
                  f"{base}); maximum likelihood (Fisher scoring) on the calibration worlds",
        "base_version": base, "seeds": list(seeds), "clients_per_seed": n_clients,
        "observations": len(pairs), "defaults": sum(d for _, d in pairs),
        "default_rate": round(sum(d for _, d in pairs) / len(pairs), 5),
        "mean_pd_before": round(sum(max(_logistic(z), PD_FLOOR) for z, _ in pairs)
                                / len(pairs), 5),
        "mean_pd_after": round(sum(max(curve.pd(z), PD_FLOOR) for z, _ in pairs)
                               / len(pairs), 5),
        "iterations": fit.iterations,
        "linear_form": {"intercept": round(linear.curve.intercept, 4),
                        "slope": round(linear.curve.slope, 4),
                        "standard_errors": {k: round(v, 4)
                                            for k, v in linear.standard_errors.items()}},
        "cross_validated_log_likelihood": {k: round(v, 1)
                                           for k, v in cross_validation(sample).items()},
        "bands_before": band_table(pairs, _logistic),
        "bands_after": band_table(pairs, curve.pd),
    }
    return document


def _shown(row: dict[str, Any]) -> str:
    if not row["clients"]:
        return "no clients"
    return (f"{row['clients']:>6} clients, observed {row['default_rate']:.2%}, "
            f"mean PD {row['mean_pd']:.2%}")


def _print_summary(provenance: dict[str, Any]) -> None:
    found = provenance["calibration_curve"]
    cv = found["cross_validated_log_likelihood"]
    line = found["linear_form"]
    print(f"two-parameter form: intercept {line['intercept']}, slope {line['slope']} "
          f"(standard errors {line['standard_errors']})")
    print(f"{found['observations']} client-years, {found['defaults']} defaults "
          f"({found['default_rate']:.2%}); mean PD {found['mean_pd_before']:.2%} before, "
          f"{found['mean_pd_after']:.2%} after")
    print("leave-one-world-out log-likelihood: "
          + ", ".join(f"{k} {v:.1f}" for k, v in cv.items()))
    if max(cv, key=cv.__getitem__) != "floor":
        print("NOTE: another form cross-validates better than the floor form written here")
    for before, after in zip(found["bands_before"], found["bands_after"], strict=True):
        print(f"  {before['band']:<14} before: {_shown(before)} | after: {_shown(after)}")


def main(argv: Sequence[str] | None = None) -> int:
    """Fit the curve, write ``fitted/<version>.json`` and print what it changed."""
    parser = argparse.ArgumentParser(prog="python -m crm_sim.rating.recalibrate",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--base", default="SC-2027.2")
    parser.add_argument("--version", default="SC-2027.3")
    parser.add_argument("--clients", type=int, default=SAMPLE_CLIENTS)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(CALIBRATION_SEEDS))
    parser.add_argument("--out", type=Path, default=None, help="default: fitted/<version>.json")
    args = parser.parse_args(argv)
    document = recalibrate(base=args.base, version=args.version, seeds=args.seeds,
                           n_clients=args.clients)
    out = args.out or FITTED_DIR / f"{args.version}.json"
    out.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    curve = document["calibration_curve"]
    print(f"{args.version}: PD = {curve['floor']:.4%} + (1 - floor) * sigmoid("
          f"{curve['intercept']:.4f} + {curve['slope']:.4f} * log-odds of {args.base}); "
          f"standard errors {curve['standard_errors']}")
    _print_summary(document["provenance"])
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
