"""Monitoring rulesets: versioned defaults and validated overrides."""

from __future__ import annotations

import pytest

from crm_risk.monitoring.engine import (
    RULESETS,
    UnknownRuleParameter,
    UnknownRulesetVersion,
    load_ruleset,
)
from crm_risk.monitoring.engine.rules import RULE_CLASSES


class TestDefaults:
    def test_default_version_has_every_rule_switched_on(self):
        """MON-2027.1 runs all nine rules and cites its plain version."""
        ruleset = load_ruleset("MON-2027.1")
        assert set(ruleset.rule_ids) == set(RULE_CLASSES)
        assert all(ruleset.enabled(rule_id) for rule_id in ruleset.rule_ids)
        assert ruleset.label == "MON-2027.1"
        assert not ruleset.overridden

    def test_retired_version_is_unknown(self):
        """The pre-tracing rule set MON-2026.1 is retired: its rules no longer exist."""
        with pytest.raises(UnknownRulesetVersion):
            load_ruleset("MON-2026.1")

    def test_practice_values_from_the_domain_notes(self):
        """Thresholds are the DOMAIN §6 practice values."""
        ruleset = load_ruleset()
        assert ruleset.rule("round_trip")["return_share"] == 0.5
        assert ruleset.rule("round_trip")["window_days"] == 30.0
        assert ruleset.rule("fast_in_fast_out")["outflow_share"] == 0.8
        assert ruleset.rule("fast_in_fast_out")["window_days"] == 3.0
        assert ruleset.rule("cash_structuring")["cash_threshold"] == 50_000.0
        assert ruleset.rule("cash_structuring")["person_line"] == 500_000.0
        assert ruleset.rule("cash_structuring")["payee_line"] == 2_000_000.0
        assert ruleset.rule("related_party")["personal_transfer_threshold"] == 500_000.0
        assert ruleset.rule("tracking")["window_days"] == 60.0

    def test_levels_follow_severity(self):
        """Only prohibited uses and round trips may reach red on their own; a balance
        collapse alone stays yellow."""
        ruleset = load_ruleset()
        reds = {r for r in ruleset.rule_ids if ruleset.rule(r)["level"] == "red"}
        assert reds == {"securities_investment", "real_estate", "round_trip"}
        assert ruleset.rule("balance_collapse")["level"] == "yellow"
        assert ruleset.rule("securities_investment")["red_from"] == 0.2

    def test_ruleset_is_immutable(self):
        """Parameters cannot be changed after loading."""
        ruleset = load_ruleset()
        with pytest.raises(TypeError):
            ruleset.rule("round_trip")["return_share"] = 0.1  # type: ignore[index]


class TestOverrides:
    def test_override_changes_value_and_label_but_not_the_catalogue(self):
        """An override applies, marks the label with a fingerprint and leaves RULESETS alone."""
        tuned = load_ruleset(overrides={"round_trip": {"return_share": 0.6}})
        assert tuned.rule("round_trip")["return_share"] == 0.6
        assert tuned.overridden
        assert tuned.label == f"MON-2027.1+{tuned.fingerprint[:8]}"
        assert RULESETS["MON-2027.1"]["round_trip"]["return_share"] == 0.5
        same = load_ruleset(overrides={"round_trip": {"return_share": 0.6}})
        assert same.label == tuned.label

    def test_override_equal_to_the_default_is_not_an_override(self):
        """Restating a default keeps the plain version label."""
        assert load_ruleset(overrides={"round_trip": {"return_share": 0.5}}).label == "MON-2027.1"

    def test_numbers_and_sequences_are_converted(self):
        """Ints become floats, lists and sets become tuples."""
        ruleset = load_ruleset(overrides={
            "fast_in_fast_out": {"window_days": 2},
            "payees": {"investment_names": ["证券", "基金"],
                       "estate_exempt_industries": {"704", "702"}},
            "cash_structuring": {"person_line": 400_000},
        })
        assert ruleset.rule("fast_in_fast_out")["window_days"] == 2.0
        assert ruleset.rule("payees")["investment_names"] == ("证券", "基金")
        assert ruleset.rule("payees")["estate_exempt_industries"] == ("702", "704")
        assert ruleset.rule("cash_structuring")["person_line"] == 400_000.0

    def test_unknown_rule_raises_with_its_id(self):
        """An override of a rule that does not exist names the rule."""
        with pytest.raises(UnknownRuleParameter) as caught:
            load_ruleset(overrides={"moon_phase": {"level": "red"}})
        assert (caught.value.rule_id, caught.value.param) == ("moon_phase", None)

    def test_unknown_parameter_raises_with_rule_and_parameter(self):
        """An override of a parameter that does not exist names both."""
        with pytest.raises(UnknownRuleParameter) as caught:
            load_ruleset(overrides={"round_trip": {"return_sharez": 0.4}})
        assert (caught.value.rule_id, caught.value.param) == ("round_trip", "return_sharez")

    @pytest.mark.parametrize(("rule_id", "param", "value"), [
        ("round_trip", "return_share", "half"),
        ("round_trip", "enabled", 1),
        ("tracking", "seen_ids_cap", True),
        ("tracking", "seen_ids_cap", 2.5),
        ("payees", "investment_names", "证券"),
        ("payees", "investment_names", [1, 2]),
        ("cash_structuring", "person_line", "50万"),
        ("round_trip", "min_return_amount", float("nan")),
    ])
    def test_wrong_types_raise_value_error(self, rule_id: str, param: str, value: object):
        """A value of the wrong type is a ValueError naming the parameter."""
        with pytest.raises(ValueError, match=f"{rule_id}.{param}"):
            load_ruleset(overrides={rule_id: {param: value}})

    @pytest.mark.parametrize(("rule_id", "param", "value"), [
        ("round_trip", "return_share", 1.5),
        ("round_trip", "return_share", 0),
        ("round_trip", "level", "purple"),
        ("cash_structuring", "level", "amber"),
        ("cash_structuring", "min_count", 0),
        ("fast_in_fast_out", "window_days", 0),
        ("related_party", "personal_transfer_threshold", -1),
        ("round_trip", "shell_ratio_min", -0.5),
    ])
    def test_out_of_range_values_raise_value_error(self, rule_id: str, param: str,
                                                   value: object):
        """Shares outside (0, 1], unknown levels, zero windows and negatives are rejected."""
        with pytest.raises(ValueError, match=f"{rule_id}.{param}"):
            load_ruleset(overrides={rule_id: {param: value}})

    def test_unknown_version_raises(self):
        """Asking for a version that was never defined is an error."""
        with pytest.raises(UnknownRulesetVersion, match="MON-1999"):
            load_ruleset("MON-1999.1")
