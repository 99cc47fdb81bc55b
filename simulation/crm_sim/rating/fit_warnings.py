"""Fit a ratio-warning version from the book: thresholds, evidence per signal, levels.

Run ``python -m crm_sim.rating.fit_warnings [--version RT-2027.2]``. On the development
sample of the scorecard fit (same seeds, same firm split):

1. Thresholds: for each watched ratio and each cell (peer group × MIIT size class with at
   least MIN_CELL clients, else the peer group, else the whole book) the worst 5 % of the
   book's values start an orange signal and the worst 1 % a red one.
2. Evidence: for each signal and severity, ln(default rate of clients with that signal /
   default rate of the book), shrunk towards 0 with PSEUDO_COUNT clients at the book's
   rate so that rare signals cannot claim much, and never below 0.
3. Levels, red first: red starts at the lowest combined evidence above which the book's
   clients defaulted 10 times as often as the book; orange is the widest band below it
   whose clients defaulted 5 times as often; yellow the widest band below orange at
   3 times (LEVEL_LIFTS; at least MIN_LEVEL_CLIENTS clients in each).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from crm_risk.rating.model.ratio_warnings import (
    RULES,
    WarningSet,
    assess,
    load_warning_set,
    raw_signals,
)
from crm_risk.rating.model.scorecard_model import FITTED_DIR
from crm_sim.rating.fit import CLIENTS_PER_SEED, DEVELOPMENT_SEEDS
from crm_sim.rating.sample import Observation, observations, split

MIN_CELL: Final = 300
ORANGE_TAIL: Final = 0.05
RED_TAIL: Final = 0.01
PSEUDO_COUNT: Final = 30
# Red at 10 times the book's rate (clients past it default at about 40 %): at 9 times, the
# first level of RT-2027.1, red covered 3.2 % of the corrected generator's development
# book, more than the 3 % a healthy book should show.
LEVEL_LIFTS: Final = {"yellow": 3.0, "orange": 5.0, "red": 10.0}
MIN_LEVEL_CLIENTS: Final = 40


def _tail(values: list[float], share: float, breach: str) -> float:
    ordered = sorted(values)
    index = int(share * (len(ordered) - 1))
    return ordered[index] if breach == "below" else ordered[len(ordered) - 1 - index]


def thresholds(sample: Sequence[Observation]) -> dict[str, dict[str, list[float]]]:
    """Return code -> cell -> [orange, red] from the sample's own distribution."""
    found: dict[str, dict[str, list[float]]] = {}
    for rule in RULES:
        cells: dict[str, list[float]] = {}
        for o in sample:
            value = o.features.ratios.value(rule.ratio)
            if value is None or not math.isfinite(value):
                continue
            for cell in (f"{o.group}|{o.size_class}", f"{o.group}|*", "*|*"):
                cells.setdefault(cell, []).append(value)
        found[rule.code] = {
            cell: [round(_tail(v, ORANGE_TAIL, rule.breach), 4),
                   round(_tail(v, RED_TAIL, rule.breach), 4)]
            for cell, v in sorted(cells.items()) if len(v) >= MIN_CELL or cell == "*|*"
        }
    return found


def evidence(sample: Sequence[Observation], probe: WarningSet) -> dict[str, dict[str, float]]:
    """Return code -> severity -> shrunk log lift of the default rate of clients with it."""
    book_rate = sum(o.defaulted for o in sample) / len(sample)
    counts: dict[tuple[str, str], list[int]] = {}
    for o in sample:
        for rule, severity, _, _ in raw_signals(o.features.ratios, group=o.group,
                                                size=o.size_class, warnings=probe):
            cell = counts.setdefault((rule.code, severity), [0, 0])
            cell[0] += 1
            cell[1] += int(o.defaulted)
    found: dict[str, dict[str, float]] = {}
    for (code, level), (n, d) in sorted(counts.items()):
        rate = (d + PSEUDO_COUNT * book_rate) / (n + PSEUDO_COUNT)
        found.setdefault(code, {})[level] = round(max(0.0, math.log(rate / book_rate)), 4)
    return found


def level_boundaries(sample: Sequence[Observation], version: str) -> dict[str, float]:
    """Return the evidence at which each level starts, red first, then each lower band.

    Red starts at the lowest evidence above which clients defaulted LEVEL_LIFTS["red"]
    times as often as the book; orange covers the widest band below red whose clients
    defaulted LEVEL_LIFTS["orange"] times as often; then yellow likewise below orange.
    """
    book_rate = sum(o.defaulted for o in sample) / len(sample)
    scored = sorted(((assess(o.features.ratios, industry_code=o.industry_code,
                             size_class=o.size_class, version=version).evidence, o.defaulted)
                     for o in sample), reverse=True)
    boundaries: dict[str, float] = {}
    upper = math.inf
    for level in ("red", "orange", "yellow"):
        count = defaults = 0
        start = upper
        for index, (value, defaulted) in enumerate(scored):
            if value >= upper:
                continue
            count += 1
            defaults += int(defaulted)
            last_of_value = index + 1 == len(scored) or scored[index + 1][0] < value
            if (last_of_value and value > 0 and count >= MIN_LEVEL_CLIENTS
                    and defaults / count >= LEVEL_LIFTS[level] * book_rate):
                start = value
        boundaries[level] = round(start, 4)
        upper = start
    return {level: boundaries[level] for level in LEVEL_LIFTS}


def level_shares(sample: Sequence[Observation], version: str) -> dict[str, Any]:
    """Return the share of clients and their default rate at each warning level."""
    table: dict[str, list[int]] = {}
    for o in sample:
        level = assess(o.features.ratios, industry_code=o.industry_code,
                       size_class=o.size_class, version=version).level
        cell = table.setdefault(level, [0, 0])
        cell[0] += 1
        cell[1] += int(o.defaulted)
    return {level: {"share": round(n / len(sample), 4), "default_rate": round(d / n, 4)}
            for level, (n, d) in sorted(table.items())}


def fit_warnings(*, version: str, seeds: Sequence[int], n_clients: int, out: Path
                 ) -> dict[str, Any]:
    """Fit thresholds, evidence and levels; write and return the document."""
    development, holdout = split(observations(seeds, n_clients=n_clients))
    document: dict[str, Any] = {
        "version": version,
        "thresholds": thresholds(development),
        "evidence": {},
        "levels": dict.fromkeys(LEVEL_LIFTS, math.inf),
        "provenance": {"development_seeds": list(seeds), "clients_per_seed": n_clients,
                       "orange_tail": ORANGE_TAIL, "red_tail": RED_TAIL,
                       "level_lifts": LEVEL_LIFTS, "min_cell": MIN_CELL},
    }
    out.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    load_warning_set.cache_clear()
    document["evidence"] = evidence(development, load_warning_set(version))
    out.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    load_warning_set.cache_clear()
    document["levels"] = level_boundaries(development, version)
    out.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    load_warning_set.cache_clear()
    document["provenance"]["development_levels"] = level_shares(development, version)
    document["provenance"]["holdout_levels"] = level_shares(holdout, version)
    out.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    load_warning_set.cache_clear()
    return document


def main(argv: Sequence[str] | None = None) -> int:
    """Fit and write ``fitted/<version>.json``; print the levels it produces."""
    parser = argparse.ArgumentParser(prog="python -m crm_sim.rating.fit_warnings",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", default="RT-2027.2")
    parser.add_argument("--clients", type=int, default=CLIENTS_PER_SEED)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(DEVELOPMENT_SEEDS))
    args = parser.parse_args(argv)
    out = FITTED_DIR / f"{args.version}.json"
    document = fit_warnings(version=args.version, seeds=args.seeds, n_clients=args.clients,
                            out=out)
    print(json.dumps(document["provenance"], indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
