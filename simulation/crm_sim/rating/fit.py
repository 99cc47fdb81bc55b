"""Fit a scorecard version on the generator's development sample and write it for review.

Run ``python -m crm_sim.rating.fit [--version SC-2027.2]``. The method:

1. Development sample: books of DEVELOPMENT_SEEDS, observed at both rating dates; 30 % of
   the firms are held out (split by firm) and never used for fitting.
2. Peer benchmarks (median, inter-quartile spread per peer group) for peer-relative ratios.
3. Each candidate factor is binned monotonically in its declared risk direction and turned
   into risk WoE; factors with information value below MIN_IV are dropped.
4. Logistic regression of default on the WoE columns; the factor with the weakest evidence
   (a wrong-signed coefficient, or the smallest z below MIN_Z) is dropped and the model
   refitted until every coefficient is positive and significant; a policy factor the
   evidence would drop is kept at its small fixed coefficient instead (``selection``).
5. Calibration in the large: the intercept is shifted so that the mean PD over the
   development sample equals the long-run default rate, the average yearly default rate of
   CALIBRATION_SEEDS' books (other worlds, other cycles) - see ``calibration``.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from crm_risk.rating.model.features import Feature
from crm_risk.rating.model.scorecard_model import (
    FITTED_DIR,
    PeerBenchmark,
    model_from_json,
    peer_relative,
)
from crm_sim.rating.binning import Bin, category_bins, information_value, monotonic_bins
from crm_sim.rating.calibration import calibrated_intercept, long_run_default_rate
from crm_sim.rating.candidates import CANDIDATES, STARTUP_LABEL, Candidate
from crm_sim.rating.sample import Observation, observations, split
from crm_sim.rating.selection import MIN_IV, MIN_Z, select_factors
from crm_sim.rating.stats import discrimination

DEVELOPMENT_SEEDS: Final = (101, 102, 103, 104)
CLIENTS_PER_SEED: Final = 5000
MIN_PEER_SAMPLE: Final = 150
STARTUP_YEARS: Final = 3.0


def raw_value(observation: Observation, feature: str) -> Feature:
    """Return a feature of an observation (peer group and size class are the client's)."""
    if feature == "industry_group":
        return observation.group
    if feature == "size_class":
        return observation.size_class
    return observation.features.values[feature]


def _quantile(ordered: Sequence[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def peer_benchmarks(sample: Sequence[Observation]) -> dict[str, dict[str, PeerBenchmark]]:
    """Return median and inter-quartile spread of each peer-relative feature per group."""
    found: dict[str, dict[str, PeerBenchmark]] = {}
    for candidate in CANDIDATES:
        if not candidate.peer_relative:
            continue
        by_group: dict[str, list[float]] = {"*": []}
        for o in sample:
            value = raw_value(o, candidate.feature)
            if isinstance(value, float) and math.isfinite(value):
                by_group.setdefault(o.group, []).append(value)
                by_group["*"].append(value)
        table: dict[str, PeerBenchmark] = {}
        for group, values in sorted(by_group.items()):
            if len(values) < MIN_PEER_SAMPLE:
                continue
            ordered = sorted(values)
            spread = _quantile(ordered, 0.75) - _quantile(ordered, 0.25)
            table[group] = PeerBenchmark(median=round(_quantile(ordered, 0.5), 6),
                                         spread=round(max(spread, 1e-6), 6))
        found[candidate.feature] = table
    return found


def factor_value(o: Observation, c: Candidate, peers: dict[str, dict[str, PeerBenchmark]]
                 ) -> Feature:
    """Return the value a factor bins: the feature, made peer-relative where declared."""
    value = raw_value(o, c.feature)
    if not c.peer_relative:
        return value
    table = peers[c.feature]
    return peer_relative(value, table.get(o.group, table["*"]))


def _label(c: Candidate, lower: float | None, upper: float | None) -> str:
    unit = f" {c.unit}" if c.unit else ""
    if lower is None and upper is not None:
        text = f"up to {upper:g}{unit}"
    elif upper is None and lower is not None:
        text = f"over {lower:g}{unit}"
    elif lower is not None and upper is not None:
        text = f"{lower:g} to {upper:g}{unit}"
    else:
        text = "any value"
    if c.peer_relative:
        text += " (peer spreads from the peer median)"
    if c.startup_bins and upper is not None and upper <= STARTUP_YEARS:
        text = f"{STARTUP_LABEL}: {text}"
    return text


def _bin_json(c: Candidate, bins: list[Bin]) -> list[dict[str, Any]]:
    found = []
    lower: float | None = None
    for b in bins:
        found.append({"upper": b.upper, "woe": round(b.woe, 4), "label": _label(c, lower, b.upper),
                      "count": b.count, "defaults": b.defaults})
        lower = b.upper
    return found


def fit_factor(c: Candidate, values: Sequence[Feature], outcomes: Sequence[bool]
               ) -> dict[str, Any]:
    """Bin one candidate on the development sample; return its JSON entry (with IV)."""
    total, bad = len(outcomes), sum(outcomes)
    entry: dict[str, Any] = {"code": c.code, "feature": c.feature, "dimension": c.dimension,
                             "label": c.label, "peer_relative": c.peer_relative}
    if c.direction is None:
        categories = category_bins([str(v) for v in values], outcomes,
                                   total_defaults=bad, total=total)
        entry["categories"] = {k: {"woe": round(b.woe, 4), "label": k, "count": b.count,
                                   "defaults": b.defaults} for k, b in categories.items()}
        entry["missing"] = {"woe": 0.0, "label": "not known"}
        entry["iv"] = information_value(list(categories.values()), bad, total)
        return entry
    present = [(float(v), o) for v, o in zip(values, outcomes, strict=True)
               if isinstance(v, float) and not math.isnan(v)]
    absent = [o for v, o in zip(values, outcomes, strict=True)
              if not (isinstance(v, float) and not math.isnan(v))]
    bins = monotonic_bins([v for v, _ in present], [o for _, o in present],
                          direction=c.direction, total_defaults=bad, total=total,
                          cuts=c.fixed_cuts)
    entry["bins"] = _bin_json(c, bins)
    missing = Bin(None, len(absent), sum(absent))
    own_bin = c.missing == "bin" and missing.count >= 0.02 * total and missing.defaults >= 5
    missing_woe = 0.0
    if own_bin:
        from crm_sim.rating.binning import woe
        missing_woe = woe(missing.defaults, missing.count, bad, total, len(bins) + 1)
    entry["missing"] = {"woe": round(missing_woe, 4),
                        "label": "not available" if own_bin else "not available (neutral)"}
    scored = [*bins, Bin(None, missing.count, missing.defaults, missing_woe)]
    entry["iv"] = information_value(scored, bad, total)
    return entry


def _woe_rows(sample: Sequence[Observation], entries: Sequence[dict[str, Any]],
              peers: dict[str, dict[str, PeerBenchmark]]) -> list[list[float]]:
    """Return each observation's WoE per factor, read through the engine's own binning."""
    document = _document("probe", entries, peers, intercept=0.0, scale=1.0, provenance={})
    model = model_from_json(document)
    by_code = {c.code: c for c in CANDIDATES}
    return [[f.bin_for(factor_value(o, by_code[f.code], peers)).woe for f in model.factors]
            for o in sample]


def _document(version: str, entries: Sequence[dict[str, Any]],
              peers: dict[str, dict[str, PeerBenchmark]], *, intercept: float, scale: float,
              provenance: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": version, "master_scale_version": "MS-2027.1",
        "intercept": round(intercept, 6), "points_per_log_odds": round(scale, 6),
        "provenance": provenance,
        "peers": {f: {g: {"median": p.median, "spread": p.spread} for g, p in t.items()}
                  for f, t in peers.items()},
        "factors": [{"coefficient": e.get("coefficient", 1.0), **e} for e in entries],
    }


def _points_scale(entries: Sequence[dict[str, Any]]) -> float:
    """Return points per unit of log-odds so the factors' maxima add up to 100."""
    span = 0.0
    for e in entries:
        woes = [b["woe"] for b in e.get("bins", [])] + [
            b["woe"] for b in e.get("categories", {}).values()] + [e["missing"]["woe"]]
        span += e["coefficient"] * (max(woes) - min(woes))
    return 100.0 / span


def fit_scorecard(
    *, version: str, seeds: Sequence[int], n_clients: int, log: list[str]
) -> dict[str, Any]:
    """Run the whole fit and return the scorecard document."""
    development, holdout = split(observations(seeds, n_clients=n_clients))
    outcomes = [o.defaulted for o in development]
    peers = peer_benchmarks(development)
    entries = [fit_factor(c, [factor_value(o, c, peers) for o in development], outcomes)
               for c in CANDIDATES]
    kept, intercept = select_factors(
        entries, outcomes, lambda chosen: _woe_rows(development, chosen, peers), log=log)
    coefficients = [e["coefficient"] for e in kept]
    dev_odds = [intercept + sum(b * w for b, w in zip(coefficients, row, strict=True))
                for row in _woe_rows(development, kept, peers)]
    hold_odds = [intercept + sum(b * w for b, w in zip(coefficients, row, strict=True))
                 for row in _woe_rows(holdout, kept, peers)]
    long_run, yearly = long_run_default_rate()
    calibrated = calibrated_intercept(intercept, dev_odds, long_run)
    provenance = {
        "method": "monotonic binning, risk WoE, logistic regression with stepwise removal "
                  f"(IV >= {MIN_IV}, z >= {MIN_Z}); intercept calibrated to the long-run "
                  "default rate",
        "development_seeds": list(seeds), "clients_per_seed": n_clients,
        "development": {"observations": len(development), "defaults": sum(outcomes)},
        "holdout": {"observations": len(holdout),
                    "defaults": sum(o.defaulted for o in holdout)},
        "auc_development": round(discrimination(dev_odds, outcomes).auc, 4),
        "auc_holdout": round(discrimination(hold_odds, [o.defaulted for o in holdout]).auc, 4),
        "long_run_default_rate": round(long_run, 5),
        "yearly_default_rates": [round(r, 4) for r in yearly],
        "fitted_intercept": round(intercept, 6),
        "selection": log,
    }
    return _document(version, kept, peers, intercept=calibrated, scale=_points_scale(kept),
                     provenance=provenance)


def main(argv: Sequence[str] | None = None) -> int:
    """Fit and write ``fitted/<version>.json``; print the provenance."""
    parser = argparse.ArgumentParser(prog="python -m crm_sim.rating.fit",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", default="SC-2027.2")
    parser.add_argument("--clients", type=int, default=CLIENTS_PER_SEED)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(DEVELOPMENT_SEEDS))
    parser.add_argument("--out", type=Path, default=None, help="default: fitted/<version>.json")
    args = parser.parse_args(argv)
    document = fit_scorecard(version=args.version, seeds=args.seeds, n_clients=args.clients,
                             log=[])
    out = args.out or FITTED_DIR / f"{args.version}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(document["provenance"], indent=1, ensure_ascii=False))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
