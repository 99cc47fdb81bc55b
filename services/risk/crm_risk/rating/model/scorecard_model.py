"""A fitted scorecard version: its factors, bins, coefficients and calibration, from JSON.

The JSON files in ``fitted/`` are written by the offline fit (``python -m
crm_sim.rating.fit``) and reviewed like code; the service only reads them. For each factor
the file holds its bins (upper edges, risk WoE, a readable label) and its logistic
coefficient. Points follow from those: a factor's points are
``points_per_log_odds · coefficient · (worst WoE − WoE of the client's bin)``, so the
riskiest bin scores 0, every factor's maximum adds up to 100, and

    log-odds of default = base_log_odds − score / points_per_log_odds.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Final

from crm_risk.rating.model.features import Feature
from crm_risk.rating.model.pd_curve import IDENTITY, CalibrationCurve, curve_from_json

FITTED_DIR: Final = Path(__file__).with_name("fitted")


@dataclass(frozen=True)
class BinSpec:
    """Values up to ``upper`` (inclusive; None means no upper edge) and their risk WoE."""

    upper: float | None
    woe: float
    label: str


@dataclass(frozen=True)
class PeerBenchmark:
    """Median and inter-quartile spread of a ratio among one peer group's firms."""

    median: float
    spread: float


@dataclass(frozen=True)
class FactorSpec:
    """One fitted factor: which feature it reads, how it is binned, what it weighs."""

    code: str
    feature: str
    dimension: str
    label: str
    coefficient: float
    peer_relative: bool
    bins: tuple[BinSpec, ...]
    categories: dict[str, BinSpec]
    missing: BinSpec

    @property
    def woes(self) -> list[float]:
        """Return every WoE the factor can take."""
        return [b.woe for b in (*self.bins, *self.categories.values(), self.missing)]

    # Computed once per loaded model: every rating reads them for every factor, and the
    # book-wide re-rating rates 100,000 clients (same values, so the same points).
    @cached_property
    def max_woe(self) -> float:
        """Return the riskiest bin's WoE (the bin that earns no points)."""
        return max(self.woes)

    @cached_property
    def min_woe(self) -> float:
        """Return the safest bin's WoE (the bin that earns the factor's maximum)."""
        return min(self.woes)

    def bin_for(self, value: Feature) -> BinSpec:
        """Return the bin of a feature value (the missing bin for None or NaN)."""
        if isinstance(value, str):
            return self.categories.get(value, self.missing)
        if value is None or math.isnan(value):
            return self.missing
        for spec in self.bins:
            if spec.upper is None or value <= spec.upper:
                return spec
        return self.bins[-1]


@dataclass(frozen=True)
class ScorecardModel:
    """A scorecard version as fitted and calibrated offline."""

    version: str
    master_scale_version: str
    intercept: float  # calibrated: log-odds = intercept + Σ coefficient · WoE
    points_per_log_odds: float
    factors: tuple[FactorSpec, ...]
    peers: dict[str, dict[str, PeerBenchmark]]  # feature -> peer group -> benchmark
    provenance: dict[str, Any]  # how and on what it was fitted, as written by the fit
    calibration: CalibrationCurve = IDENTITY  # log-odds -> PD, fitted after the intercept

    @cached_property
    def base_log_odds(self) -> float:
        """Return the log-odds of a client at score 0 (every factor in its worst bin)."""
        return self.intercept + sum(f.coefficient * f.max_woe for f in self.factors)

    def log_odds(self, score: float) -> float:
        """Return the scorecard's log-odds of default at ``score`` (before the curve)."""
        return self.base_log_odds - score / self.points_per_log_odds

    def pd(self, score: float) -> float:
        """Return the calibrated PD at ``score`` (before the master scale's PD floor)."""
        return self.calibration.pd(self.log_odds(score))

    def points(self, factor: FactorSpec, spec: BinSpec) -> float:
        """Return the points a bin earns."""
        return self.points_per_log_odds * factor.coefficient * (factor.max_woe - spec.woe)

    def max_points(self, factor: FactorSpec) -> float:
        """Return the most points a factor can earn."""
        return self.points_per_log_odds * factor.coefficient * (factor.max_woe
                                                                - factor.min_woe)

    def relative(self, feature: str, group: str, value: Feature) -> Feature:
        """Return a ratio relative to the client's peer group (see ``peer_relative``)."""
        table = self.peers[feature]
        return peer_relative(value, table.get(group, table["*"]))


def peer_relative(value: Feature, peer: PeerBenchmark) -> Feature:
    """Return (value − peer median) / peer spread; other values (None, ±inf) unchanged."""
    if not isinstance(value, float) or not math.isfinite(value):
        return value
    return (value - peer.median) / peer.spread


def _bin(raw: dict[str, Any]) -> BinSpec:
    return BinSpec(upper=raw.get("upper"), woe=float(raw["woe"]), label=str(raw["label"]))


def _factor(raw: dict[str, Any]) -> FactorSpec:
    return FactorSpec(
        code=raw["code"], feature=raw["feature"], dimension=raw["dimension"],
        label=raw["label"], coefficient=float(raw["coefficient"]),
        peer_relative=bool(raw.get("peer_relative", False)),
        bins=tuple(_bin(b) for b in raw.get("bins", [])),
        categories={k: _bin(v) for k, v in raw.get("categories", {}).items()},
        missing=_bin(raw["missing"]),
    )


def model_from_json(document: dict[str, Any]) -> ScorecardModel:
    """Return the scorecard described by a fitted JSON document."""
    return ScorecardModel(
        version=document["version"],
        master_scale_version=document["master_scale_version"],
        intercept=float(document["intercept"]),
        points_per_log_odds=float(document["points_per_log_odds"]),
        factors=tuple(_factor(f) for f in document["factors"]),
        peers={feature: {group: PeerBenchmark(**values) for group, values in groups.items()}
               for feature, groups in document["peers"].items()},
        provenance=dict(document.get("provenance", {})),
        calibration=curve_from_json(document.get("calibration_curve")),
    )


@cache
def load_model(version: str) -> ScorecardModel:
    """Return the fitted scorecard ``version`` from ``fitted/<version>.json``."""
    path = FITTED_DIR / f"{version}.json"
    if not path.is_file():
        msg = f"unknown scorecard version {version!r}"
        raise ValueError(msg)
    return model_from_json(json.loads(path.read_text(encoding="utf-8")))
