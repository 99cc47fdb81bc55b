"""A monitoring rule set: a version's parameters (``ruleset_versions``) with validated overrides.

A ruleset version is immutable once alerts cite it; a changed default means a new version key
in ``RULESETS``. Overrides (per deployment or per test) are validated against the defaults:
unknown rule or parameter -> ``UnknownRuleParameter``; wrong type or out-of-range value ->
``ValueError``.
Alerts raised under overrides carry ``<version>+<fingerprint>`` so they stay traceable.

Every rule has ``level`` (the highest level it raises on its own), ``dedupe_days`` (one alert
per client, rule and scope in that many days) and a grading by the traced loan money at stake
as a share of the facility: at least ``orange_from`` gives orange, at least ``red_from`` red,
less gives yellow (a value above 1 means "never"); corroboration lifts a level (``severity``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from crm_risk.levels import LEVEL_RANK
from crm_risk.monitoring.engine.ruleset_versions import DEFAULT_VERSION, GROUPS, RULESETS
from crm_risk.monitoring.engine.ruleset_versions import ParamValue as ParamValue  # noqa: PLC0414
from crm_risk.monitoring.engine.ruleset_versions import RuleParams as RuleParams  # noqa: PLC0414


class UnknownRuleParameter(LookupError):
    """An override names a rule (``param`` is None) or parameter the ruleset does not have."""

    def __init__(self, rule_id: str, param: str | None) -> None:
        self.rule_id = rule_id
        self.param = param
        what = f"rule {rule_id!r}" if param is None else f"parameter {rule_id}.{param}"
        super().__init__(f"unknown {what}")


class UnknownRulesetVersion(LookupError):
    """The requested ruleset version does not exist."""


@dataclass(frozen=True, slots=True)
class Ruleset:
    """An immutable, validated set of rule parameters."""

    version: str
    params: Mapping[str, RuleParams]
    fingerprint: str
    overridden: bool

    @property
    def label(self) -> str:
        """Return the version alerts cite: the base version, plus a fingerprint if overridden."""
        return f"{self.version}+{self.fingerprint[:8]}" if self.overridden else self.version

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """Return every rule id (parameter groups such as ``tracking`` excluded)."""
        return tuple(k for k in self.params if k not in GROUPS)

    def rule(self, rule_id: str) -> RuleParams:
        """Return the parameters of ``rule_id``."""
        try:
            return self.params[rule_id]
        except KeyError:
            raise UnknownRuleParameter(rule_id, None) from None

    def enabled(self, rule_id: str) -> bool:
        """Return whether ``rule_id`` is switched on."""
        return bool(self.rule(rule_id).get("enabled", False))


def load_ruleset(
    version: str = DEFAULT_VERSION,
    overrides: Mapping[str, Mapping[str, object]] | None = None,
) -> Ruleset:
    """Return ruleset ``version`` with ``overrides`` (rule id -> parameter -> value) applied."""
    try:
        base = RULESETS[version]
    except KeyError:
        msg = f"unknown ruleset version {version!r}; known: {', '.join(sorted(RULESETS))}"
        raise UnknownRulesetVersion(msg) from None
    merged: dict[str, dict[str, ParamValue]] = {rid: dict(p) for rid, p in base.items()}
    for rule_id, changes in (overrides or {}).items():
        if rule_id not in merged:
            raise UnknownRuleParameter(rule_id, None)
        for name, value in changes.items():
            if name not in merged[rule_id]:
                raise UnknownRuleParameter(rule_id, name)
            merged[rule_id][name] = coerce_param(rule_id, name, merged[rule_id][name], value)
    for rule_id, params in merged.items():
        for name, value in params.items():
            check_range(rule_id, name, value)
    canonical = json.dumps(merged, sort_keys=True, ensure_ascii=False)
    base_canonical = json.dumps(base, sort_keys=True, ensure_ascii=False)
    return Ruleset(
        version=version,
        params=MappingProxyType({rid: MappingProxyType(p) for rid, p in merged.items()}),
        fingerprint=hashlib.sha256(canonical.encode()).hexdigest(),
        overridden=canonical != base_canonical,
    )


def coerce_param(rule_id: str, name: str, default: ParamValue, value: object) -> ParamValue:
    """Return ``value`` converted to the type of ``default``; raise ``ValueError`` if it can't."""
    where = f"{rule_id}.{name}"
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else list(value)
        if default and isinstance(default[0], str):
            if all(isinstance(v, str) for v in items):
                return tuple(str(v) for v in items)
        elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in items):
            return tuple(float(v) for v in items)  # type: ignore[arg-type]
    msg = f"{where}: expected {type(default).__name__}, got {type(value).__name__}"
    raise ValueError(msg)


def check_range(rule_id: str, name: str, value: ParamValue) -> None:
    """Raise ``ValueError`` if ``value`` is outside the sensible range for parameter ``name``."""
    where = f"{rule_id}.{name}"
    bad: str | None = None
    if name == "level" or name.endswith("_level"):
        if value not in LEVEL_RANK:
            bad = f"must be one of {', '.join(LEVEL_RANK)}"
    elif isinstance(value, bool | str):
        return
    elif isinstance(value, tuple):
        if any(isinstance(v, float) and not v > 0 for v in value):
            bad = "thresholds must be positive"
    elif name.endswith("_share"):
        if not 0 < value <= 1:
            bad = "must be in (0, 1]"
    elif name.endswith(("_days", "_hours")):
        if not value > 0:
            bad = "must be positive"
    elif isinstance(value, int):
        if value < 1:
            bad = "must be at least 1"
    elif value < 0:
        bad = "must not be negative"
    if bad is not None:
        msg = f"{where}: {bad} (got {value!r})"
        raise ValueError(msg)


def as_float(params: RuleParams, name: str) -> float:
    """Return float parameter ``name``."""
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"parameter {name} is not a number"
        raise TypeError(msg)
    return float(value)


def as_int(params: RuleParams, name: str) -> int:
    """Return integer parameter ``name``."""
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"parameter {name} is not an integer"
        raise TypeError(msg)
    return value


def as_str(params: RuleParams, name: str) -> str:
    """Return string parameter ``name``."""
    value = params[name]
    if not isinstance(value, str):
        msg = f"parameter {name} is not a string"
        raise TypeError(msg)
    return value


def as_strs(params: RuleParams, name: str) -> tuple[str, ...]:
    """Return string-tuple parameter ``name``."""
    value = params[name]
    if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
        msg = f"parameter {name} is not a tuple of strings"
        raise TypeError(msg)
    return tuple(str(v) for v in value)


def as_floats(params: RuleParams, name: str) -> tuple[float, ...]:
    """Return number-tuple parameter ``name``."""
    value = params[name]
    if not isinstance(value, tuple) or not all(isinstance(v, float) for v in value):
        msg = f"parameter {name} is not a tuple of numbers"
        raise TypeError(msg)
    return tuple(float(v) for v in value)
