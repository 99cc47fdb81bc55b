"""Tests for the segment-rule expression language: parsing, errors, limits, safety, semantics."""

from __future__ import annotations

import builtins
from decimal import Decimal

import pytest

from crm_client.segmentation.expr import (
    MAX_EXPRESSION_LENGTH,
    MAX_NESTING_DEPTH,
    CompiledExpression,
    ExpressionError,
    compile_expression,
)


def holds(text: str, **features: object) -> bool:
    """Compile ``text`` and evaluate it with keyword features (dots spelled as '__')."""
    return compile_expression(text).evaluate({k.replace("__", "."): v for k, v in features.items()})


def error_of(text: str, **kwargs: frozenset[str]) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text, **kwargs)
    return caught.value


class TestPrecedence:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("1 + 2 * 3 == 7", True),
            ("(1 + 2) * 3 == 9", True),
            ("10 - 4 - 3 == 3", True),
            ("24 / 4 / 2 == 3", True),
            ("-2 * 3 == -6", True),
            ("- -2 == 2", True),
            ("true or false and false", True),
            ("(true or false) and false", False),
            ("not 1 == 2", True),
            ("not true or true", True),
            ("not (true or true)", False),
            ("1 + 1 in [2, 3]", True),
            ("2 not in [1, 3]", True),
            ("not 2 in [1, 3]", True),
        ],
    )
    def test_operators_bind_in_documented_order(self, text: str, expected: bool) -> None:
        """Multiplication beats addition beats comparison beats not beats and beats or."""
        assert holds(text) is expected

    def test_decimal_literals_do_exact_arithmetic(self) -> None:
        """0.1 + 0.2 equals 0.3 because literals are decimals, not binary floats."""
        assert holds("0.1 + 0.2 == 0.3")

    def test_string_literals_in_both_quote_styles_with_escapes(self) -> None:
        """Single and double quotes work and backslash escapes are decoded."""
        assert holds("""name == 'O\\'Brien' and other == "say \\"hi\\"\"""", name="O'Brien",
                     other='say "hi"')  # fmt: skip

    def test_list_literals_may_hold_expressions(self) -> None:
        """A list can contain computed items such as a feature plus one."""
        assert holds("3 in [x + 1, 10]", x=2)
        assert not holds("3 in [x + 1, 10]", x=5)

    def test_features_used_lists_every_referenced_name_but_no_functions(self) -> None:
        """features_used holds dotted feature names; function names are not features."""
        compiled = compile_expression("abs(a.b) > 1 and c.d in [e.f] or startswith(g, 'x')")
        assert compiled.features_used == frozenset({"a.b", "c.d", "e.f", "g"})
        assert compiled.source == "abs(a.b) > 1 and c.d in [e.f] or startswith(g, 'x')"


class TestErrors:
    @pytest.mark.parametrize(
        ("text", "position", "fragment"),
        [
            ("", 0, "empty"),
            ("   ", 0, "empty"),
            ("owner.age <", 11, "expected a value"),
            ("owner.age = 3", 10, "use '=='"),
            ("a && b", 2, "'and' / 'or'"),
            ("(a == 1", 7, "expected ')' to close '(' at position 0"),
            ("[1, 2", 5, "expected ']'"),
            ("a == 1)", 6, "unexpected ')'"),
            ("1 < x < 3", 6, "do not chain"),
            ("x < null", 2, "against null"),
            ("x in 3", 2, "must be a list"),
            ("'open", 0, "unterminated string"),
            ("'bad \\q'", 5, "unknown escape"),
            ("1e5 > x", 0, "malformed number"),
            ("client. == 1", 0, "malformed name"),
            ("x == #", 5, "unexpected character '#'"),
            ("a b", 2, "unexpected 'b'"),
            ("median(a, b)", 0, "unknown function 'median'"),
            ("abs(1, 2)", 0, "abs() takes 1 argument, got 2"),
            ("between(x, 1)", 0, "between() takes 3 arguments, got 2"),
            ("coalesce()", 0, "takes 2 arguments, got 0"),
        ],
    )
    def test_syntax_errors_report_message_and_offset(
        self, text: str, position: int, fragment: str
    ) -> None:
        """Each malformed rule names the problem and the 0-based offset where it is."""
        error = error_of(text)
        assert error.position == position
        assert fragment in error.message
        assert f"at position {position}" in str(error)

    def test_unknown_feature_is_rejected_with_a_suggestion(self) -> None:
        """With a catalogue, a misspelt feature fails at compile time and suggests the fix."""
        known = frozenset({"owner.age", "client.size_class"})
        error = error_of("client.size_class == 'large' and owner.aeg < 40", known_features=known)
        assert error.position == 33
        assert "unknown feature 'owner.aeg'" in error.message
        assert "did you mean 'owner.age'" in error.message

    def test_known_features_accept_catalogued_names(self) -> None:
        """Names in the catalogue compile fine."""
        known = frozenset({"owner.age"})
        assert compile_expression("owner.age < 40", known_features=known).features_used == known

    def test_expression_error_is_a_value_error(self) -> None:
        """Callers that map ValueError to INVALID_ARGUMENT handle ExpressionError too."""
        assert isinstance(error_of("("), ValueError)


class TestLimits:
    def test_expression_at_the_length_limit_compiles(self) -> None:
        """Exactly MAX_EXPRESSION_LENGTH characters is allowed."""
        text = "true" + " " * (MAX_EXPRESSION_LENGTH - 4)
        assert compile_expression(text).evaluate({})

    def test_expression_over_the_length_limit_is_rejected(self) -> None:
        """One character more is an ExpressionError at the limit's offset."""
        error = error_of("true" + " " * (MAX_EXPRESSION_LENGTH - 3))
        assert error.position == MAX_EXPRESSION_LENGTH
        assert "longer than 2000" in error.message

    @pytest.mark.parametrize(
        ("opener", "closer"),
        [("(", ")"), ("[", "]"), ("abs(", ")"), ("not ", ""), ("-", "")],
    )
    def test_nesting_up_to_the_limit_compiles(self, opener: str, closer: str) -> None:
        """MAX_NESTING_DEPTH levels of parentheses, lists, calls, not or minus are accepted."""
        compile_expression(opener * MAX_NESTING_DEPTH + "1" + closer * MAX_NESTING_DEPTH)

    @pytest.mark.parametrize(
        ("opener", "closer"),
        [("(", ")"), ("[", "]"), ("abs(", ")"), ("not ", ""), ("-", "")],
    )
    def test_nesting_beyond_the_limit_is_an_expression_error(
        self, opener: str, closer: str
    ) -> None:
        """One more level fails cleanly at the offending token."""
        depth = MAX_NESTING_DEPTH + 1
        error = error_of(opener * depth + "1" + closer * depth)
        assert "deeper than 32" in error.message
        # The offset points into the opener that went one level too deep.
        assert len(opener) * MAX_NESTING_DEPTH <= error.position < len(opener) * depth

    def test_hostile_nesting_never_hits_the_recursion_limit(self) -> None:
        """Hundreds of open parentheses give ExpressionError, not RecursionError."""
        with pytest.raises(ExpressionError):
            compile_expression("(" * 1000 + "1" + ")" * 999)

    def test_long_flat_chains_evaluate_without_deep_recursion(self) -> None:
        """A chain of ~490 additions or ors builds a flat tree and evaluates correctly."""
        terms = 490
        assert holds("1 + " * (terms - 1) + f"1 == {terms}")
        assert holds("false or " * 220 + "x", x=True)


class TestSafety:
    @pytest.mark.parametrize(
        "text",
        [
            "__import__('os')",
            "__import__('os').system('true')",
            "os.system('rm -rf /')",
            "eval('1')",
            "exec('x = 1')",
            "open('/etc/passwd')",
            "client.size_class.upper() == 'X'",
            "client.__class__ == 1",
            "().__class__",
            "lambda: 1",
            "[x for x in y]",
            "getattr(a, 'b')",
            "a[0] == 1",
            "x if y else z",
        ],
    )
    def test_python_constructs_are_compile_errors(self, text: str) -> None:
        """Nothing that would reach Python internals compiles."""
        with pytest.raises(ExpressionError):
            compile_expression(text)

    def test_compile_and_evaluate_never_call_eval_exec_or_compile(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The interpreter's code-execution builtins are not used at all."""

        def forbidden(*_args: object, **_kwargs: object) -> None:
            raise AssertionError("code execution builtin called")

        for name in ("eval", "exec", "compile", "__import__"):
            monkeypatch.setattr(builtins, name, forbidden)
        compiled = compile_expression("between(owner.age, 30, 50) and abs(-x) in [1, 2]")
        assert compiled.evaluate({"owner.age": 40, "x": 2})


class TestNullSemantics:
    def test_comparisons_with_a_missing_feature_are_false(self) -> None:
        """Missing data never satisfies an ordering or equality comparison."""
        for text in ("age < 40", "age >= 40", "age == 40", "age != 40", "age in [40]",
                     "age not in [40]"):  # fmt: skip
            assert not holds(text), text

    def test_explicit_null_tests_see_missing_and_present_values(self) -> None:
        """== null and != null are the only way to ask about null."""
        assert holds("age == null")
        assert holds("null == age")
        assert not holds("age != null")
        assert holds("age != null", age=3)
        assert holds("null == null")

    def test_two_missing_features_are_not_equal(self) -> None:
        """Two nulls compared with == are false, as in SQL; only == null tests for null."""
        assert not holds("a == b")

    def test_not_of_a_null_comparison_is_true(self) -> None:
        """Logic is two-valued: not (null < 40) is not (false), which is true."""
        assert holds("not (age < 40)")

    def test_arithmetic_with_null_is_null(self) -> None:
        """Null propagates through arithmetic and makes comparisons false."""
        assert not holds("age + 1 > 0")
        assert holds("age * 2 == null")

    def test_coalesce_supplies_a_default(self) -> None:
        """coalesce(a, b) returns b only when a is null."""
        assert holds("coalesce(age, 0) < 40")
        assert not holds("coalesce(age, 0) < 40", age=45)

    def test_null_inside_a_list_never_matches(self) -> None:
        """A null needle is never 'in' a list, even one holding null."""
        assert not holds("x in [1, null]")
        assert holds("x in [1, null]", x=1)


class TestMixedTypes:
    @pytest.mark.parametrize(
        ("text", "features"),
        [
            ("'abc' < 3", {}),
            ("name < 3", {"name": "abc"}),
            ("name > 3", {"name": "abc"}),
            ("flag > 0", {"flag": True}),
            ("true == 1", {}),
            ("x == 'x'", {"x": object()}),
            ("x + 1 > 0", {"x": "one"}),
            ("x / 0 > 0", {"x": 1}),
            ("x < 1", {"x": Decimal("NaN")}),
            ("x == 1", {"x": Decimal("sNaN")}),
            ("x * 2 > 0", {"x": float("nan")}),
            ("x in s", {"x": "a", "s": "abc"}),
        ],
    )
    def test_type_errors_evaluate_to_false(self, text: str, features: dict[str, object]) -> None:
        """Incomparable or non-numeric operands make the rule false instead of raising."""
        assert compile_expression(text).evaluate(features) is False

    def test_numbers_compare_by_value_across_int_decimal_and_float(self) -> None:
        """1 == 1.0 and a float trend of -0.3 satisfies <= -0.3 despite binary rounding."""
        assert holds("x == 1.0", x=1)
        assert holds("trend <= -0.3", trend=-0.3)
        assert holds("trend <= -0.3", trend=Decimal("-0.3"))
        assert holds("x * 0.5 == 1", x=2.0)

    def test_strings_order_lexicographically(self) -> None:
        """Two strings compare as text."""
        assert holds("grade < 'B'", grade="AA")

    def test_list_valued_features_support_membership(self) -> None:
        """A feature holding a list can be the right side of 'in'."""
        assert holds("'loan' in products", products=["deposit", "loan"])

    def test_result_is_always_a_bool(self) -> None:
        """evaluate() returns the truthiness of non-boolean results as a real bool."""
        assert compile_expression("x").evaluate({"x": 5}) is True
        assert compile_expression("x").evaluate({"x": ""}) is False
        assert compile_expression("x").evaluate({}) is False


class TestFunctions:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("startswith(code, 'C30')", True),
            ("startswith(code, 'K')", False),
            ("startswith(3, 'C')", False),
            ("between(5, 5, 10)", True),
            ("between(10, 5, 10)", True),
            ("between(11, 5, 10)", False),
            ("between(missing, 5, 10)", False),
            ("abs(-3) == 3", True),
            ("abs(-0.25) == 0.25", True),
            ("abs('x') == null", True),
            ("min(2, 3) == 2", True),
            ("max(2, 3) == 3", True),
            ("max(missing, 3) == null", True),
            ("min('b', 'a') == 'a'", True),
            ("coalesce(missing, 'fallback') == 'fallback'", True),
            ("coalesce(code, 'fallback') == 'C3011'", True),
        ],
    )
    def test_whitelisted_functions(self, text: str, expected: bool) -> None:
        """Each whitelisted function computes its documented result."""
        assert holds(text, code="C3011") is expected

    def test_compiled_expressions_compare_by_source(self) -> None:
        """Two compilations of the same text are equal values."""
        assert compile_expression("a < 1") == compile_expression("a < 1")
        assert isinstance(compile_expression("a < 1"), CompiledExpression)
