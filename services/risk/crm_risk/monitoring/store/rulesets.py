"""Monitoring rule-set configuration: overrides from the API, stored history, messages."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from google.protobuf import field_mask_pb2, json_format, struct_pb2
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.risk.v1 import monitoring_pb2
from crm_risk.models import RulesetConfigRow
from crm_risk.monitoring.engine.ruleset import (
    Ruleset,
    UnknownRuleParameter,
    UnknownRulesetVersion,
    load_ruleset,
)
from crm_risk.monitoring.engine.ruleset_versions import RULESETS
from crm_runtime.errors import InvalidArgument
from crm_runtime.fieldmask import resolve_mask
from crm_runtime.logging import get_logger
from crm_runtime.wire import timestamp

log = get_logger("monitoring")
R = "ruleset"


# What UpdateMonitoringRuleset may change (update_mask paths).
RULESET_FIELDS = ("version", "overrides")


def masked_ruleset(
    in_force: monitoring_pb2.MonitoringRuleset, update: monitoring_pb2.MonitoringRuleset,
    mask: field_mask_pb2.FieldMask,
) -> monitoring_pb2.MonitoringRuleset:
    """Return the rule set in force with the fields the mask names taken from `update`."""
    paths = resolve_mask(mask, mutable=RULESET_FIELDS, protected=(),
                         resource=monitoring_pb2.MonitoringRuleset.DESCRIPTOR)
    wanted = monitoring_pb2.MonitoringRuleset(version=in_force.version,
                                              overrides=in_force.overrides)
    if "version" in paths:
        wanted.version = update.version
    if "overrides" in paths:
        del wanted.overrides[:]
        wanted.overrides.extend(update.overrides)
    return wanted


def _python_value(value: struct_pb2.Value, default: object) -> object:
    """Return a Value as the Python type of the parameter's default."""
    plain: Any = json_format.MessageToDict(value)
    integral = isinstance(plain, float) and plain.is_integer()
    if isinstance(default, int) and not isinstance(default, bool) and integral:
        return int(plain)
    return plain


def parse_overrides(
    message: monitoring_pb2.MonitoringRuleset,
) -> tuple[Ruleset, dict[str, dict[str, Any]]]:
    """Return the rule set the message asks for and its overrides, or INVALID_ARGUMENT."""
    version = message.version
    if version not in RULESETS:
        raise InvalidArgument.of(f"{R}.version", f"unknown version; known: {', '.join(RULESETS)}",
                                 reason="UNKNOWN_RULESET_VERSION")
    base = RULESETS[version]
    overrides: dict[str, dict[str, Any]] = {}
    for index, item in enumerate(message.overrides):
        path = f"{R}.overrides[{index}]"
        params = base.get(item.rule)
        if params is None:
            raise InvalidArgument.of(f"{path}.rule", f"unknown rule {item.rule!r}",
                                     reason="UNKNOWN_RULE_PARAMETER")
        if item.parameter not in params:
            raise InvalidArgument.of(f"{path}.parameter",
                                     f"rule {item.rule!r} has no parameter {item.parameter!r}",
                                     reason="UNKNOWN_RULE_PARAMETER")
        if not item.HasField("value"):
            raise InvalidArgument.of(f"{path}.value", "is required")
        if item.parameter in overrides.get(item.rule, {}):
            raise InvalidArgument.of(path, "the same parameter is overridden twice")
        overrides.setdefault(item.rule, {})[item.parameter] = _python_value(
            item.value, params[item.parameter]
        )
    try:
        ruleset = load_ruleset(version, overrides)
    except UnknownRuleParameter as exc:  # pragma: no cover - checked above
        raise InvalidArgument.of(f"{R}.overrides", str(exc),
                                 reason="UNKNOWN_RULE_PARAMETER") from exc
    except UnknownRulesetVersion as exc:  # pragma: no cover - checked above
        raise InvalidArgument.of(f"{R}.version", str(exc)) from exc
    except ValueError as exc:
        raise InvalidArgument.of(f"{R}.overrides", str(exc),
                                 reason="INVALID_RULE_PARAMETER") from exc
    return ruleset, overrides


async def current_config(session: AsyncSession) -> RulesetConfigRow | None:
    """Return the configuration in force (the newest stored), or None for the default."""
    return (await session.execute(
        select(RulesetConfigRow).order_by(col(RulesetConfigRow.seq).desc()).limit(1)
    )).scalars().first()


def ruleset_from(row: RulesetConfigRow | None, default_version: str) -> Ruleset:
    """Return the rule set of a stored configuration (or the default version).

    A stored configuration of a retired version (its rules no longer exist, e.g. MON-2026.1
    after the fund-tracing engine) gives way to the default version, with a warning in the log.
    """
    if row is None:
        return load_ruleset(default_version)
    try:
        return load_ruleset(row.version, json.loads(row.overrides_json))
    except (UnknownRulesetVersion, UnknownRuleParameter):
        log.warning("stored monitoring rule set is retired; using the default",
                    stored=row.version, default=default_version)
        return load_ruleset(default_version)


def _plain(value: object) -> Any:
    return list(value) if isinstance(value, tuple) else value


def ruleset_message(
    ruleset: Ruleset, overrides: Mapping[str, Mapping[str, object]], row: RulesetConfigRow | None
) -> monitoring_pb2.MonitoringRuleset:
    """Return the MonitoringRuleset message."""
    message = monitoring_pb2.MonitoringRuleset(
        name="monitoringRuleset", version=ruleset.version, label=ruleset.label,
        updated_by=row.updated_by if row else "",
        update_time=timestamp(row.update_time if row else None),
    )
    for rule, params in sorted(overrides.items()):
        for parameter, value in sorted(params.items()):
            item = message.overrides.add(rule=rule, parameter=parameter)
            json_format.ParseDict(_plain(value), item.value)
    for rule_id, params in ruleset.params.items():
        entry = message.rules.add(rule=rule_id, enabled=bool(params.get("enabled", True)))
        entry.parameters.update({k: _plain(v) for k, v in params.items()})
    return message
