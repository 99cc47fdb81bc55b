"""Quality of monitoring on the labelled synthetic book: recall, precision, false warnings.

A detection = an alert of the pattern's rule on the instance's client whose evidence names at
least one of the instance's postings. Recall per pattern = detected / injected instances.
Precision two ways: per rule (alerts that detect an instance of the rule's pattern / alerts of
the rule) and per client (alerts on clients with some misuse / all alerts). False warnings:
share of clean clients with any alert, and with an orange or red one, and with a red one.
Hard negatives: clean clients with a situation built to look like misuse, and how many of
them were warned.

Tune on ``TUNING_SEEDS``; report on ``HOLDOUT_SEED`` (``--holdout``), which no tuning used.
Run: ``python -m crm_sim.monitoring.evaluate [--clients 2000] [--days 90] [--seeds 1,2,3]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from crm_risk.monitoring.engine.core import MonitoringEngine
from crm_risk.monitoring.engine.model import Alert
from crm_risk.monitoring.engine.ruleset import load_ruleset
from crm_sim.monitoring.misuse import PATTERNS
from crm_sim.monitoring.world import HARD_NEGATIVES, MisuseLabel, World, generate

TUNING_SEEDS = (1, 2, 3)
HOLDOUT_SEED = 20271207
MIN_RECALL = 0.95
MIN_PRECISION = 0.80
MAX_FALSE_WARNING_RATE = 0.02
MAX_RED_RATE = 0.005
MIN_HARD_NEGATIVE_SHARE = 0.20
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
    clean_warned: dict[str, int]  # level floor ("any", "orange", "red") -> clean clients
    alerts: int
    alerts_on_misuse_clients: int
    transactions: int
    seconds: float
    hard_negative_clients: int
    hard_negative_warned: int
    by_hard_negative: dict[str, tuple[int, int]]  # tag -> (clean clients, warned)
    clean_alerts_by_rule: dict[str, int]
    missed: list[MisuseLabel] = field(default_factory=list)

    def rate(self, floor: str) -> float:
        """Return the share of clean clients warned at ``floor`` or above."""
        return self.clean_warned[floor] / self.clean_clients if self.clean_clients else 0.0

    @property
    def precision(self) -> float:
        """Return alerts on clients with misuse / all alerts (1.0 without alerts)."""
        return self.alerts_on_misuse_clients / self.alerts if self.alerts else 1.0

    @property
    def hard_negative_share(self) -> float:
        """Return the share of clean clients with a hard negative."""
        return self.hard_negative_clients / self.clean_clients if self.clean_clients else 0.0

    def meets_goals(self) -> bool:
        """Return whether every goal of the issue is met."""
        return (all(r.recall >= MIN_RECALL for r in self.patterns)
                and self.precision >= MIN_PRECISION
                and self.rate("any") <= MAX_FALSE_WARNING_RATE
                and self.rate("red") <= MAX_RED_RATE
                and self.hard_negative_share >= MIN_HARD_NEGATIVE_SHARE)


def detects(alert: Alert, label: MisuseLabel) -> bool:
    """Return whether ``alert`` detects ``label`` (same client, rule, evidence overlap)."""
    return (alert.client_id == label.client_id
            and alert.rule_id == PATTERN_RULE[label.pattern]
            and not set(alert.evidence_txn_ids).isdisjoint(label.txn_ids))


def score(world: World, alerts: Sequence[Alert], seconds: float) -> Evaluation:
    """Score ``alerts`` against the world's labels."""
    by_key: dict[tuple[str, str], list[int]] = {}
    for index, label in enumerate(world.labels):
        by_key.setdefault((label.client_id, PATTERN_RULE[label.pattern]), []).append(index)
    misuse_clients = {label.client_id for label in world.labels}
    detected: set[int] = set()
    attributed: Counter[str] = Counter()
    per_rule: Counter[str] = Counter()
    clean_levels: dict[str, set[str]] = {"any": set(), "orange": set(), "red": set()}
    clean_rules: Counter[str] = Counter()
    on_misuse = 0
    for alert in alerts:
        per_rule[alert.rule_id] += 1
        if alert.client_id in misuse_clients:
            on_misuse += 1
        if alert.client_id in world.clean_client_ids:
            clean_rules[alert.rule_id] += 1
            clean_levels["any"].add(alert.client_id)
            if alert.level in ("orange", "red"):
                clean_levels["orange"].add(alert.client_id)
            if alert.level == "red":
                clean_levels["red"].add(alert.client_id)
        hits = [i for i in by_key.get((alert.client_id, alert.rule_id), [])
                if detects(alert, world.labels[i])]
        if hits:
            attributed[alert.rule_id] += 1
            detected.update(hits)
    results = []
    for pattern in PATTERNS:
        indexes = [i for i, lab in enumerate(world.labels) if lab.pattern == pattern]
        rule = PATTERN_RULE[pattern]
        results.append(PatternResult(pattern, len(indexes), sum(i in detected for i in indexes),
                                     per_rule[rule], attributed[rule]))
    hard = {c for c, tags in world.hard_negatives.items() if tags}
    by_tag = {
        tag: (sum(tag in tags for tags in world.hard_negatives.values()),
              sum(tag in tags and c in clean_levels["any"]
                  for c, tags in world.hard_negatives.items()))
        for tag in sorted(HARD_NEGATIVES)
    }
    return Evaluation(
        patterns=results, clean_clients=len(world.clean_client_ids),
        clean_warned={k: len(v) for k, v in clean_levels.items()}, alerts=len(alerts),
        alerts_on_misuse_clients=on_misuse, transactions=len(world.transactions),
        seconds=seconds, hard_negative_clients=len(hard),
        hard_negative_warned=len(hard & clean_levels["any"]), by_hard_negative=by_tag,
        clean_alerts_by_rule=dict(sorted(clean_rules.items())),
        missed=[lab for i, lab in enumerate(world.labels) if i not in detected],
    )


def run_engine(world: World) -> tuple[list[Alert], float]:
    """Run the default rule set over the world's postings; return alerts and CPU seconds."""
    engine = MonitoringEngine(load_ruleset(), clients=world.clients,
                              facilities=world.facilities)
    started = time.process_time()
    alerts = engine.process_batch(world.transactions)
    return alerts, time.process_time() - started


def format_report(result: Evaluation, *, title: str = "") -> str:
    """Return the evaluation as a text table."""
    lines = [title] if title else []
    lines.append(f"{'pattern':<24}{'injected':>9}{'detected':>9}{'recall':>8}"
                 f"{'alerts':>8}{'precision':>10}")
    for r in result.patterns:
        precision = "-" if r.precision is None else f"{r.precision:.2f}"
        lines.append(f"{r.pattern:<24}{r.injected:>9}{r.detected:>9}{r.recall:>8.1%}"
                     f"{r.alerts:>8}{precision:>10}")
    lines.append(
        f"precision (alerts on clients with misuse): {result.precision:.3f} "
        f"({result.alerts_on_misuse_clients}/{result.alerts})")
    lines.append(
        f"clean clients warned: any {result.rate('any'):.2%} "
        f"({result.clean_warned['any']}/{result.clean_clients}), orange or red "
        f"{result.rate('orange'):.2%}, red {result.rate('red'):.2%} "
        f"({result.clean_warned['red']})")
    lines.append(
        f"hard negatives: {result.hard_negative_share:.1%} of clean clients "
        f"({result.hard_negative_clients}), of them warned {result.hard_negative_warned}")
    tags = ", ".join(f"{tag} {n}/{w}" for tag, (n, w) in result.by_hard_negative.items() if n)
    lines.append(f"  by situation (clients/warned): {tags}")
    if result.clean_alerts_by_rule:
        rules = ", ".join(f"{k} {v}" for k, v in result.clean_alerts_by_rule.items())
        lines.append(f"  alerts on clean clients by rule: {rules}")
    rate = result.transactions / result.seconds if result.seconds else 0.0
    lines.append(f"{result.transactions:,} postings in {result.seconds:.1f} s CPU "
                 f"({rate:,.0f} postings/s)")
    return "\n".join(lines)


def missed_report(result: Evaluation, limit: int = 12) -> str:
    """Return the first missed instances per pattern (for tuning on tuning seeds only)."""
    by_pattern: dict[str, list[MisuseLabel]] = {}
    for label in result.missed:
        by_pattern.setdefault(label.pattern, []).append(label)
    lines = []
    for pattern, labels in by_pattern.items():
        variants = Counter(label.variant for label in labels)
        lines.append(f"missed {pattern}: {dict(variants)}")
        lines += [f"  {lab.client_id} {lab.facility_id} {lab.variant} {lab.txn_ids[:6]}"
                  for lab in labels[:limit]]
    return "\n".join(lines)


def evaluate(seeds: Iterable[int], *, clients: int, days: int) -> list[Evaluation]:
    """Generate and score one world per seed."""
    results = []
    for seed in seeds:
        world = generate(n_clients=clients, seed=seed, days=days)
        alerts, seconds = run_engine(world)
        results.append(score(world, alerts, seconds))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the labelled book per seed, run the engine, print the report."""
    parser = argparse.ArgumentParser(prog="python -m crm_sim.monitoring.evaluate",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seeds", default=",".join(map(str, TUNING_SEEDS)))
    parser.add_argument("--holdout", action="store_true",
                        help=f"report on the held-out seed {HOLDOUT_SEED} only")
    parser.add_argument("--missed", action="store_true", help="list missed instances")
    parser.add_argument("--check", action="store_true", help="exit 1 unless every goal is met")
    args = parser.parse_args(argv)
    seeds = [HOLDOUT_SEED] if args.holdout else [int(s) for s in args.seeds.split(",")]
    ok = True
    for seed, result in zip(seeds, evaluate(seeds, clients=args.clients, days=args.days),
                            strict=True):
        kind = "held-out" if seed == HOLDOUT_SEED else "tuning"
        sys.stdout.write(format_report(result, title=f"== seed {seed} ({kind})") + "\n")
        if args.missed:
            sys.stdout.write(missed_report(result) + "\n")
        ok = ok and result.meets_goals()
    if args.check and not ok:
        sys.stdout.write("goals not met\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
