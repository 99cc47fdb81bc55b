"""Define the syntax tree of rule expressions and the total, never-raising semantics of each node.

Evaluation rules, chosen so that incomplete or odd client data never crashes re-segmentation:
- a missing feature, or a feature value of an unsupported type, reads as null;
- arithmetic with null or a non-number yields null; so does division by zero or overflow;
- ordering comparisons (<, <=, >, >=) and ==, !=, in, not in are false when either side is null
  or the two sides cannot be compared (e.g. "abc" < 3); only an explicit ``== null`` /
  ``!= null`` tests for null (the parser turns those into IsNull nodes);
- numbers compare by value across int, Decimal and float; bools are not numbers.
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from typing import Any, TypeAlias

Value: TypeAlias = bool | int | float | Decimal | str | tuple["Value", ...] | None
Number: TypeAlias = int | float | Decimal

# A private context: arithmetic must not depend on (or change) the thread's decimal context,
# and every signal that would produce a meaningless number must trap so we can turn it into null.
_DECIMAL = Context(prec=28, traps=[InvalidOperation, DivisionByZero, Overflow])
# Lists nested deeper than this in feature values are not meaningful and could be cyclic.
_MAX_VALUE_NESTING = 4
# Errors that numeric operations on odd inputs (NaN, sNaN, huge ints, zero divisors) can raise.
_NUMERIC_ERRORS = (ArithmeticError, ValueError)

# Any: the operands are str or numbers, checked by order() before the call.
_ORDERINGS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

_FLOAT_OPERATIONS: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}
_DECIMAL_OPERATIONS: dict[str, Callable[[Decimal, Decimal], Decimal]] = {
    "+": _DECIMAL.add,
    "-": _DECIMAL.subtract,
    "*": _DECIMAL.multiply,
    "/": _DECIMAL.divide,
}


def coerce_value(raw: object, nesting: int = 0) -> Value:
    """Return ``raw`` as an expression value; unsupported types and over-deep lists become null."""
    if raw is None or isinstance(raw, bool | int | float | Decimal | str):
        return raw
    if isinstance(raw, list | tuple | set | frozenset) and nesting < _MAX_VALUE_NESTING:
        return tuple(coerce_value(item, nesting + 1) for item in raw)
    return None


def is_number(value: Value) -> bool:
    """Return whether ``value`` is numeric (bools are deliberately excluded)."""
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _float_pair(left: Number, right: Number) -> tuple[Number, Number]:
    """Return operands to compare: both floats when either is a float, else unchanged.

    Decimal("-0.3") is exactly -0.3 while float -0.3 is slightly above it, so comparing them
    exactly would make ``trend <= -0.3`` false for a float trend of -0.3.
    """
    if isinstance(left, float) != isinstance(right, float):
        try:
            return float(left), float(right)
        except _NUMERIC_ERRORS:  # An int too large for a float: exact comparison is right.
            return left, right
    return left, right


def order(symbol: str, left: Value, right: Value) -> bool:
    """Return ``left <symbol> right`` for two numbers or two strings, else False."""
    compare = _ORDERINGS[symbol]
    if isinstance(left, str) and isinstance(right, str):
        return bool(compare(left, right))
    if is_number(left) and is_number(right):
        assert isinstance(left, int | float | Decimal)
        assert isinstance(right, int | float | Decimal)
        try:
            return bool(compare(*_float_pair(left, right)))
        except _NUMERIC_ERRORS:  # Decimal NaN refuses ordering.
            return False
    return False


def equal(left: Value, right: Value) -> bool:
    """Return whether two non-null values are equal; values of different kinds never are."""
    if left is None or right is None:
        return False
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    if is_number(left) and is_number(right):
        assert isinstance(left, int | float | Decimal)
        assert isinstance(right, int | float | Decimal)
        try:
            first, second = _float_pair(left, right)
            return bool(first == second)
        except _NUMERIC_ERRORS:  # Signalling NaN refuses even equality.
            return False
    if isinstance(left, tuple) and isinstance(right, tuple):
        return len(left) == len(right) and all(map(equal, left, right))
    return isinstance(left, str) and isinstance(right, str) and left == right


def arithmetic(symbol: str, left: Value, right: Value) -> Value:
    """Return ``left <symbol> right`` for numbers, or null when that is not a number."""
    if not (is_number(left) and is_number(right)):
        return None
    assert isinstance(left, int | float | Decimal)
    assert isinstance(right, int | float | Decimal)
    try:
        if isinstance(left, float) or isinstance(right, float):
            result: float = _FLOAT_OPERATIONS[symbol](float(left), float(right))
            return result
        # Integers go through Decimal too, so a chain of multiplications stays bounded in size.
        return _DECIMAL_OPERATIONS[symbol](Decimal(left), Decimal(right))
    except _NUMERIC_ERRORS:
        return None


def negate(value: Value) -> Value:
    """Return ``-value`` for a number, else null."""
    try:
        if isinstance(value, Decimal):
            return _DECIMAL.minus(value)
        if is_number(value):
            assert isinstance(value, int | float)
            return -value
    except _NUMERIC_ERRORS:
        pass
    return None


class Node(ABC):
    """Base of every syntax-tree node."""

    __slots__ = ()

    @abstractmethod
    def evaluate(self, features: Mapping[str, object]) -> Value:
        """Return this node's value for ``features``; never raise."""


@dataclass(frozen=True, slots=True)
class Literal(Node):
    """A constant: number, string, bool, null or a list of constants."""

    value: Value

    def evaluate(self, features: Mapping[str, object]) -> Value:
        """Return the constant."""
        return self.value


@dataclass(frozen=True, slots=True)
class FeatureRef(Node):
    """A dotted feature name looked up in the features mapping."""

    name: str

    def evaluate(self, features: Mapping[str, object]) -> Value:
        """Return the feature's value, or null if it is missing or of an unsupported type."""
        return coerce_value(features.get(self.name))


@dataclass(frozen=True, slots=True)
class ListExpr(Node):
    """A list whose items are computed, e.g. ``[owner.age, 3]``."""

    items: tuple[Node, ...]

    def evaluate(self, features: Mapping[str, object]) -> Value:
        """Return the tuple of item values."""
        return tuple(item.evaluate(features) for item in self.items)


@dataclass(frozen=True, slots=True)
class Negate(Node):
    """Unary minus."""

    operand: Node

    def evaluate(self, features: Mapping[str, object]) -> Value:
        """Return the negated operand, or null if it is not a number."""
        return negate(self.operand.evaluate(features))


@dataclass(frozen=True, slots=True)
class Not(Node):
    """Logical negation of the operand's truthiness."""

    operand: Node

    def evaluate(self, features: Mapping[str, object]) -> Value:
        """Return True when the operand is falsy (null counts as falsy)."""
        return not bool(self.operand.evaluate(features))


@dataclass(frozen=True, slots=True)
class BoolOp(Node):
    """A flat chain of ``and`` or ``or``; flat so long chains do not make deep trees."""

    op: str
    operands: tuple[Node, ...]

    def evaluate(self, features: Mapping[str, object]) -> Value:
        """Return the short-circuit truth value of the chain."""
        results = (bool(operand.evaluate(features)) for operand in self.operands)
        return all(results) if self.op == "and" else any(results)


@dataclass(frozen=True, slots=True)
class Arithmetic(Node):
    """A left-associative chain of + - (or * /) kept flat, like BoolOp, to bound tree depth."""

    first: Node
    rest: tuple[tuple[str, Node], ...]

    def evaluate(self, features: Mapping[str, object]) -> Value:
        """Return the chain's value, or null as soon as any step is not a number."""
        result = self.first.evaluate(features)
        for symbol, operand in self.rest:
            if result is None:
                return None
            result = arithmetic(symbol, result, operand.evaluate(features))
        return result


@dataclass(frozen=True, slots=True)
class Compare(Node):
    """A binary comparison: == != < <= > >= in, not in."""

    op: str
    left: Node
    right: Node

    def evaluate(self, features: Mapping[str, object]) -> Value:
        """Return the comparison; False whenever either side is null or incomparable."""
        left = self.left.evaluate(features)
        right = self.right.evaluate(features)
        if left is None or right is None:
            return False
        if self.op == "==":
            return equal(left, right)
        if self.op == "!=":
            return not equal(left, right)
        if self.op in ("in", "not in"):
            if not isinstance(right, tuple):
                return False
            found = any(equal(left, item) for item in right)
            return found if self.op == "in" else not found
        return order(self.op, left, right)


@dataclass(frozen=True, slots=True)
class IsNull(Node):
    """An explicit ``x == null`` (or ``x != null`` when negated)."""

    operand: Node
    negated: bool

    def evaluate(self, features: Mapping[str, object]) -> Value:
        """Return whether the operand is null (or not null when negated)."""
        return (self.operand.evaluate(features) is None) != self.negated


@dataclass(frozen=True, slots=True)
class Call(Node):
    """A call of a whitelisted function; the parser has already checked name and arity."""

    implementation: Callable[..., Value]
    args: tuple[Node, ...]

    def evaluate(self, features: Mapping[str, object]) -> Value:
        """Return the function's result for the evaluated arguments."""
        return self.implementation(*(arg.evaluate(features) for arg in self.args))
