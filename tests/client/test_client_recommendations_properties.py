"""Property tests: recommend() is total and never offers new credit to risky clients."""

from __future__ import annotations

from decimal import Decimal

from client_segmentation_factories import features_of, segments_of
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_client.segmentation.features import KNOWN_FEATURES
from crm_client.segmentation.recommendations import recommend

NEW_CREDIT = {"TAILORED_GROWTH_LOAN", "SUPPLY_CHAIN_FINANCE"}

any_value = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5),
    st.decimals(allow_nan=True), st.sampled_from(["A+", "AAA", "D", "CCC–C", "red", "C"]),
)  # fmt: skip
segment_ids = st.sets(st.sampled_from(["beh-dormant", "beh-potential-risk", "x", ""]), max_size=3)


class TestRecommendationProperties:
    @settings(max_examples=200, deadline=None)
    @given(
        features=st.dictionaries(st.sampled_from(sorted(KNOWN_FEATURES)), any_value),
        segments=segment_ids,
    )
    def test_recommend_is_total_and_sorted(
        self, features: dict[str, object], segments: set[str]
    ) -> None:
        """Any feature values give a sorted list of distinct codes, never an exception."""
        items = recommend(features, segments)
        codes = [item.code for item in items]
        assert len(codes) == len(set(codes))
        assert items == sorted(items, key=lambda item: (item.priority, item.code))
        assert all(item.reason and item.title and item.title_zh for item in items)

    @settings(max_examples=200, deadline=None)
    @given(
        growth=st.decimals(min_value=-1, max_value=5, places=2),
        grade=st.sampled_from(["AAA", "AA", "A+", "A-", "BBB", "BB", "B", "CCC", "D"]),
        potential_risk=st.booleans(),
        warning=st.sampled_from([None, "blue", "yellow", "orange", "red"]),
        txns=st.integers(min_value=0, max_value=300),
    )
    def test_no_new_credit_for_distressed_default_or_potential_risk(
        self,
        growth: Decimal,
        grade: str,
        potential_risk: bool,
        warning: str | None,
        txns: int,
    ) -> None:
        """Growth loans and supply-chain finance only go to clients with no risk signal."""
        features = features_of()
        features.update({
            "client.revenue_growth": growth, "credit.grade": grade, "credit.tier": None,
            "credit.potential_risk": potential_risk, "credit.warning_level": warning,
            "activity.txn_count_90d": txns,
        })  # fmt: skip
        codes = {item.code for item in recommend(features, segments_of(features))}
        risky = grade in ("CCC", "D") or potential_risk or warning in ("orange", "red")
        if risky:
            assert not codes & NEW_CREDIT
        if grade in ("AAA", "AA", "A+", "A-") and growth >= Decimal("0.2") and not risky:
            assert "TAILORED_GROWTH_LOAN" in codes
