"""Property tests: compiling never fails except with ExpressionError; evaluating never raises."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from client_segmentation_factories import BUILTINS
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_client.segmentation.engine import evaluate_memberships
from crm_client.segmentation.expr import ExpressionError, compile_expression
from crm_client.segmentation.features import KNOWN_FEATURES

NAMES = ("a", "b.c", "owner.age", "activity.balance_trend")

scalar_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from([Decimal("sNaN"), Decimal("-Infinity"), Decimal("1E+999999"), -0.0]),
    st.text(max_size=6),
    st.dates(),
    st.builds(object),
)
feature_values = st.recursive(
    scalar_values, lambda inner: st.lists(inner, max_size=3), max_leaves=8
)


def feature_maps(names: tuple[str, ...] | frozenset[str]) -> st.SearchStrategy[dict[str, object]]:
    """Return maps from some of ``names`` (others missing) to arbitrary values."""
    return st.dictionaries(st.sampled_from(sorted(names)), feature_values, max_size=len(names))


atoms = st.one_of(
    st.sampled_from(NAMES),
    st.sampled_from(["0", "1", "-2", "0.5", "1000000000000", "'x'", '""', "true", "null", "[]"]),
)


def _combine(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.sampled_from(["+", "-", "*", "/", "==", "!=", "<", ">=", "and", "or", "in",
                              "not in"])  # fmt: skip
    return st.one_of(
        st.tuples(inner, binary, inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda text: f"not {text}"),
        inner.map(lambda text: f"-({text})"),
        st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
        st.tuples(st.sampled_from(["abs", "min", "max", "coalesce", "startswith", "between"]),
                  st.lists(inner, min_size=1, max_size=3))
        .map(lambda t: f"{t[0]}({', '.join(t[1])})"),
    )  # fmt: skip


expressions = st.recursive(atoms, _combine, max_leaves=12)


class TestProperties:
    @settings(max_examples=200, deadline=None)
    @given(text=expressions, features=feature_maps(NAMES))
    def test_generated_expressions_compile_or_fail_cleanly_and_never_raise(
        self, text: str, features: dict[str, object]
    ) -> None:
        """Grammar-shaped random rules compile or raise ExpressionError; evaluation is total."""
        try:
            compiled = compile_expression(text)
        except ExpressionError:
            return
        assert compiled.features_used <= set(NAMES)
        assert isinstance(compiled.evaluate(features), bool)

    @settings(max_examples=200, deadline=None)
    @given(text=st.text(max_size=60))
    def test_arbitrary_text_only_ever_raises_expression_error(self, text: str) -> None:
        """No input text makes the compiler raise anything but ExpressionError."""
        try:
            compiled = compile_expression(text)
        except ExpressionError as error:
            assert 0 <= error.position <= len(text)
            return
        assert isinstance(compiled.evaluate({}), bool)

    @settings(max_examples=200, deadline=None)
    @given(features=feature_maps(KNOWN_FEATURES))
    def test_builtin_segments_never_raise_on_random_feature_values(
        self, features: dict[str, object]
    ) -> None:
        """Whatever (wrongly typed) values the features hold, membership evaluation is total."""
        memberships = evaluate_memberships(BUILTINS, features)
        assert memberships <= {segment.segment_id for segment in BUILTINS}

    @settings(max_examples=100, deadline=None)
    @given(value=feature_values)
    def test_not_is_the_negation_of_truthiness(self, value: object) -> None:
        """'not x' is exactly the opposite of 'x' for any value of x."""
        features = {"x": value, "y": date(2025, 1, 1)}
        assert compile_expression("not x").evaluate(features) != compile_expression("x").evaluate(
            features
        )
