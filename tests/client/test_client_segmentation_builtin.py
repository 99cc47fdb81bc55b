"""Tests for the built-in segments and membership evaluation over realistic clients."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from client_segmentation_factories import (
    BUILTINS,
    TODAY,
    activity_facts,
    cash_rich_wholesaler,
    client_facts,
    credit_facts,
    dormant_developer,
    features_of,
    flagged_wind_farm,
    owner_facts,
    segments_of,
    state_steel_mill,
    young_tech_founder,
)

from crm_client.segmentation.builtin import BUILTIN_SEGMENTS, SegmentDefinition
from crm_client.segmentation.engine import (
    CompiledSegment,
    build_features,
    compile_segment,
    diff_memberships,
    evaluate_memberships,
)
from crm_client.segmentation.expr import ExpressionError
from crm_client.segmentation.features import CREDIT_TIERS, KNOWN_FEATURES, MASTER_SCALE

SIZE_SEGMENTS = {"demo-size-large", "demo-size-medium", "demo-size-small", "demo-size-micro"}
TIER_SEGMENTS = {f"tier-{tier.replace('_', '-')}" for tier in CREDIT_TIERS}


class TestBuiltinDefinitions:
    @pytest.mark.parametrize("definition", BUILTIN_SEGMENTS, ids=lambda d: d.segment_id)
    def test_every_builtin_compiles_against_the_catalogue(
        self, definition: SegmentDefinition
    ) -> None:
        """Each built-in rule compiles with known_features and reads only catalogued names."""
        compiled = compile_segment(definition)
        assert compiled.expression.features_used <= KNOWN_FEATURES
        assert compiled.expression.features_used
        assert definition.display_name
        assert definition.display_name_zh
        assert definition.description

    def test_ids_are_unique(self) -> None:
        """No two built-ins share an id."""
        ids = [definition.segment_id for definition in BUILTIN_SEGMENTS]
        assert len(ids) == len(set(ids))

    def test_required_segments_exist_with_their_kinds(self) -> None:
        """Demographic, behavioural and one segment per credit tier are all present."""
        kinds = {definition.segment_id: definition.kind for definition in BUILTIN_SEGMENTS}
        demographic = {
            "demo-young-professional-owners", "demo-middle-aged-entrepreneurs",
            "demo-retiree-age-owners", "demo-young-firms", "demo-established-firms",
            "demo-project-finance", "demo-industry-manufacturing", "demo-industry-real-estate",
            *SIZE_SEGMENTS,
        }  # fmt: skip
        behavioural = {
            "beh-high-value", "beh-active", "beh-dormant", "beh-declining-balance",
            "beh-potential-risk",
        }  # fmt: skip
        assert {k for k, v in kinds.items() if v == "demographic"} == demographic
        assert {k for k, v in kinds.items() if v == "behavioural"} == behavioural
        assert {k for k, v in kinds.items() if v == "credit_tier"} == TIER_SEGMENTS

    def test_definitions_validate_their_id_and_kind(self) -> None:
        """Ids must be lower-kebab-case and kinds one of the three."""
        good = BUILTIN_SEGMENTS[0]
        with pytest.raises(ValueError, match="kebab"):
            replace(good, segment_id="Bad Id")
        with pytest.raises(ValueError, match="kind"):
            replace(good, kind="psychographic")  # type: ignore[arg-type]


class TestTierSegments:
    @pytest.mark.parametrize("grade", [*MASTER_SCALE, None])
    def test_exactly_one_tier_segment_matches_each_grade(self, grade: str | None) -> None:
        """Every grade (and no rating) lands in exactly its own tier segment."""
        credit = credit_facts(grade=grade)
        tiers = segments_of(features_of(credit=credit)) & TIER_SEGMENTS
        expected_tier = features_of(credit=credit)["credit.tier"]
        assert tiers == {f"tier-{str(expected_tier).replace('_', '-')}"}


class TestRealisticClients:
    def test_young_tech_founder(self) -> None:
        """A two-year-old micro firm with a 32-year-old PhD founder and an A+ rating."""
        assert segments_of(young_tech_founder()) == {
            "demo-young-professional-owners", "demo-size-micro", "demo-young-firms",
            "tier-strong", "beh-active",
        }  # fmt: skip

    def test_state_steel_mill(self) -> None:
        """A large old SOE steel maker with heavy balances, three loans and a 62-year-old boss."""
        assert segments_of(state_steel_mill()) == {
            "demo-size-large", "demo-established-firms", "demo-industry-manufacturing",
            "demo-retiree-age-owners", "tier-prime", "beh-high-value", "beh-active",
        }  # fmt: skip

    def test_dormant_developer(self) -> None:
        """A quiet developer whose cash fell 92% is dormant, declining and potential risk."""
        assert segments_of(dormant_developer()) == {
            "demo-size-medium", "demo-established-firms", "demo-industry-real-estate",
            "demo-middle-aged-entrepreneurs", "tier-sub-investment", "beh-dormant",
            "beh-declining-balance", "beh-potential-risk",
        }  # fmt: skip

    def test_flagged_wind_farm(self) -> None:
        """A red-flagged project-finance wind farm is potential risk and project finance."""
        segments = segments_of(flagged_wind_farm())
        assert {"beh-potential-risk", "demo-project-finance", "tier-standard"} <= segments
        assert "demo-middle-aged-entrepreneurs" not in segments  # State-owned, not private.

    def test_cash_rich_wholesaler(self) -> None:
        """A busy wholesaler is active but not high value without loan products."""
        segments = segments_of(cash_rich_wholesaler())
        assert {"beh-active", "tier-prime", "demo-retiree-age-owners"} <= segments
        assert "beh-high-value" not in segments
        assert "demo-industry-manufacturing" not in segments

    def test_client_without_owner_activity_or_rating(self) -> None:
        """A bare new client gets only firm-level segments and unrated; nothing behavioural."""
        features = build_features(
            client=client_facts(), owner=None, activity=None, credit=None, today=TODAY
        )
        assert segments_of(features) == {
            "demo-size-medium", "demo-established-firms", "demo-industry-manufacturing",
            "tier-unrated",
        }  # fmt: skip


class TestBoundaries:
    @pytest.mark.parametrize(("days", "dormant"), [(89, False), (90, True), (200, True)])
    def test_dormancy_starts_at_ninety_days(self, days: int, dormant: bool) -> None:
        """Ninety days without a transaction makes a client dormant."""
        activity = activity_facts(txn_count_90d=3, last_txn_date=TODAY - timedelta(days=days))
        assert ("beh-dormant" in segments_of(features_of(activity=activity))) is dormant

    @pytest.mark.parametrize(
        ("average", "declining", "risk"),
        [(Decimal(750), False, False), (Decimal(700), True, False),
         (Decimal(500), True, False), (Decimal(499), True, True)],
    )  # fmt: skip
    def test_balance_trend_thresholds(self, average: Decimal, declining: bool, risk: bool) -> None:
        """A 30% fall is declining; more than 50% is a potential-risk collapse."""
        activity = activity_facts(avg_balance_wan=average, prev_avg_balance_wan=Decimal(1000))
        segments = segments_of(features_of(activity=activity))
        assert ("beh-declining-balance" in segments) is declining
        assert ("beh-potential-risk" in segments) is risk

    @pytest.mark.parametrize("level", ["orange", "red"])
    def test_orange_and_red_warnings_mean_potential_risk(self, level: str) -> None:
        """A serious open warning alone puts a client in the potential-risk segment."""
        features = features_of(credit=credit_facts(warning_level=level))
        assert "beh-potential-risk" in segments_of(features)

    def test_blue_warning_alone_is_not_potential_risk(self) -> None:
        """A blue warning does not by itself flag the client."""
        features = features_of(credit=credit_facts(warning_level="blue"))
        assert "beh-potential-risk" not in segments_of(features)

    def test_owner_age_bands_are_contiguous(self) -> None:
        """39 is young, 40 and 59 middle-aged (private), 60 retiree-age."""
        expectations = {
            39: "demo-young-professional-owners", 40: "demo-middle-aged-entrepreneurs",
            59: "demo-middle-aged-entrepreneurs", 60: "demo-retiree-age-owners",
        }  # fmt: skip
        age_segments = set(expectations.values())
        for age, segment in expectations.items():
            owner = owner_facts(birth_date=TODAY.replace(year=TODAY.year - age))
            assert segments_of(features_of(owner=owner)) & age_segments == {segment}, age


class TestEngine:
    def test_re_segmentation_after_a_downgrade_and_warning(self) -> None:
        """A rating change plus WarningRaised moves the client between segments."""
        before = segments_of(features_of())
        after = segments_of(
            features_of(credit=credit_facts(grade="BB", potential_risk=True, warning_level="red"))
        )
        diff = diff_memberships(before, after)
        assert diff.joined == {"tier-sub-investment", "beh-potential-risk"}
        assert diff.left == {"tier-strong"}
        assert diff.changed

    def test_no_change_gives_an_empty_diff(self) -> None:
        """Recomputing with the same facts changes nothing."""
        diff = diff_memberships(segments_of(features_of()), segments_of(features_of()))
        assert not diff.changed
        assert diff.joined == diff.left == set()

    def test_user_defined_segment_versions(self) -> None:
        """A user-edited definition compiles at its version and is evaluated with built-ins."""
        custom = SegmentDefinition(
            "guangdong-growth", "demographic", "Guangdong growth", "广东成长型企业",
            "Guangdong firms growing 10%+.",
            "client.region_province == '44' and client.revenue_growth >= 0.1", 100,
        )  # fmt: skip
        compiled = compile_segment(custom, version=3)
        assert compiled == CompiledSegment("guangdong-growth", 3, compiled.expression)
        assert "guangdong-growth" in evaluate_memberships([*BUILTINS, compiled], features_of())

    def test_user_definition_with_a_typo_is_rejected(self) -> None:
        """Saving a rule with an unknown feature fails before it can silently never match."""
        broken = replace(BUILTIN_SEGMENTS[0], expression="credit.potental_risk == true")
        with pytest.raises(ExpressionError, match=r"did you mean 'credit\.potential_risk'"):
            compile_segment(broken)
