"""Quality of the monitoring rules on the labelled synthetic stream.

A detection = an alert of the pattern's rule, on the instance's client, raised between the
instance's first transaction and one day after its last, whose evidence names at least one of
the instance's transactions. Recall per pattern = detected / injected instances. Precision per
rule = alerts matching some instance of its pattern / all alerts of the rule. The false-warning
rate = share of clean clients (no injected instance) with any alert at all.

Run: ``python -m crm_risk.monitoring.evaluate [--clients 600] [--seed 11] [--check]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from crm_risk.monitoring.config import Ruleset, load_ruleset
from crm_risk.monitoring.engine import MonitoringEngine
from crm_risk.monitoring.model import Alert
from crm_risk.monitoring.synthetic import PATTERNS, MisuseLabel, SyntheticData, generate_stream

GRACE = timedelta(days=1)
MIN_RECALL = 0.95
MAX_FALSE_WARNING_RATE = 0.02
# Each pattern is detected by the rule of the same id.
PATTERN_RULE: dict[str, str] = {pattern: pattern for pattern in PATTERNS}


@dataclass(frozen=True)
class PatternResult:
    """Recall and precision of one pattern and its rule."""

    pattern: str
    injected: int
    detected: int
    alerts: int
    attributed: int

    @property
    def recall(self) -> float:
        """Return detected / injected (1.0 when nothing was injected)."""
        return self.detected / self.injected if self.injected else 1.0

    @property
    def precision(self) -> float | None:
        """Return attributed / alerts of the rule, or None without alerts."""
        return self.attributed / self.alerts if self.alerts else None


@dataclass(frozen=True)
class Evaluation:
    """Everything the evaluation measured."""

    patterns: list[PatternResult]
    clean_clients: int
    clean_with_alerts: int
    transactions: int
    alerts: int
    engine_seconds: float
    missed: list[MisuseLabel] = field(default_factory=list)
    clean_alerts_by_rule: dict[str, int] = field(default_factory=dict)

    @property
    def false_warning_rate(self) -> float:
        """Return the share of clean clients with any alert."""
        return self.clean_with_alerts / self.clean_clients if self.clean_clients else 0.0

    def meets_goals(
        self, min_recall: float = MIN_RECALL, max_false_rate: float = MAX_FALSE_WARNING_RATE
    ) -> bool:
        """Return whether every pattern's recall and the false-warning rate meet the goals."""
        return all(p.recall >= min_recall for p in self.patterns) and (
            self.false_warning_rate <= max_false_rate
        )


def detects(alert: Alert, label: MisuseLabel) -> bool:
    """Return whether ``alert`` detects the injected instance ``label``."""
    return (
        alert.client_id == label.client_id
        and alert.rule_id == PATTERN_RULE[label.pattern]
        and label.start <= alert.raised_at <= label.end + GRACE
        and not set(alert.evidence_txn_ids).isdisjoint(label.txn_ids)
    )


def evaluate(data: SyntheticData, ruleset: Ruleset | None = None) -> Evaluation:
    """Run ``data`` through a fresh engine and score the alerts against the labels."""
    engine = MonitoringEngine(
        ruleset or load_ruleset(), clients=data.clients, facilities=data.facilities
    )
    started = time.perf_counter()
    alerts = engine.process_batch(data.transactions)
    seconds = time.perf_counter() - started
    by_key: dict[tuple[str, str], list[MisuseLabel]] = {}
    for label in data.labels:
        by_key.setdefault((label.client_id, PATTERN_RULE[label.pattern]), []).append(label)
    detected: set[int] = set()
    attributed: Counter[str] = Counter()
    per_rule: Counter[str] = Counter()
    clean_alerts: Counter[str] = Counter()
    clean_flagged: set[str] = set()
    for alert in alerts:
        per_rule[alert.rule_id] += 1
        if alert.client_id in data.clean_client_ids:
            clean_flagged.add(alert.client_id)
            clean_alerts[alert.rule_id] += 1
        candidates = by_key.get((alert.client_id, alert.rule_id), [])
        hits = [lab for lab in candidates if detects(alert, lab)]
        if hits:
            attributed[alert.rule_id] += 1
            detected.update(id(lab) for lab in hits)
    results = []
    for pattern in PATTERNS:
        labels = [lab for lab in data.labels if lab.pattern == pattern]
        rule = PATTERN_RULE[pattern]
        results.append(PatternResult(
            pattern=pattern, injected=len(labels),
            detected=sum(1 for lab in labels if id(lab) in detected),
            alerts=per_rule[rule], attributed=attributed[rule],
        ))
    return Evaluation(
        patterns=results,
        clean_clients=len(data.clean_client_ids),
        clean_with_alerts=len(clean_flagged),
        transactions=len(data.transactions),
        alerts=len(alerts),
        engine_seconds=seconds,
        missed=[lab for lab in data.labels if id(lab) not in detected],
        clean_alerts_by_rule=dict(sorted(clean_alerts.items())),
    )


def format_report(result: Evaluation) -> str:
    """Return the evaluation as a plain-text table."""
    lines = [
        f"{'pattern':<24}{'injected':>9}{'detected':>9}{'recall':>8}"
        f"{'alerts':>8}{'attributed':>11}{'precision':>10}",
    ]
    for p in result.patterns:
        precision = "-" if p.precision is None else f"{p.precision:.1%}"
        lines.append(
            f"{p.pattern:<24}{p.injected:>9}{p.detected:>9}{p.recall:>8.1%}"
            f"{p.alerts:>8}{p.attributed:>11}{precision:>10}"
        )
    lines.append("")
    lines.append(
        f"clean clients: {result.clean_clients}, with any alert: {result.clean_with_alerts}, "
        f"false-warning rate: {result.false_warning_rate:.2%}"
    )
    if result.clean_alerts_by_rule:
        spread = ", ".join(f"{k}={v}" for k, v in result.clean_alerts_by_rule.items())
        lines.append(f"alerts on clean clients by rule: {spread}")
    for label in result.missed[:20]:
        lines.append(
            f"missed: {label.pattern}/{label.variant} client {label.client_id} "
            f"facility {label.facility_id or '-'} ({len(label.txn_ids)} txns)"
        )
    rate = result.transactions / result.engine_seconds if result.engine_seconds else 0.0
    lines.append(
        f"transactions: {result.transactions}, alerts: {result.alerts}, "
        f"engine: {result.engine_seconds:.2f} s ({rate:,.0f} tx/s)"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Generate a stream, evaluate it and print the report; with --check, gate on the goals."""
    parser = argparse.ArgumentParser(
        prog="python -m crm_risk.monitoring.evaluate", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--clients", type=int, default=600)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--misuse-share", type=float, default=0.3)
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 if any recall < {MIN_RECALL:.0%} or the false-warning "
                             f"rate > {MAX_FALSE_WARNING_RATE:.0%}")
    args = parser.parse_args(argv)
    data = generate_stream(n_clients=args.clients, seed=args.seed, days=args.days,
                           misuse_share=args.misuse_share)
    result = evaluate(data)
    sys.stdout.write(format_report(result) + "\n")
    if args.check and not result.meets_goals():
        sys.stdout.write("goals not met\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
