"""Implement the whitelist of functions rule expressions may call.

Each function takes and returns expression values and never raises: arguments of the wrong
kind give null (or False for predicates), following the rules in ``_nodes``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from crm_client.segmentation._nodes import Value, is_number, negate, order


def _startswith(text: Value, prefix: Value) -> Value:
    return isinstance(text, str) and isinstance(prefix, str) and text.startswith(prefix)


def _between(value: Value, low: Value, high: Value) -> Value:
    return order(">=", value, low) and order("<=", value, high)


def _abs(value: Value) -> Value:
    if not is_number(value):
        return None
    return negate(value) if order("<", value, 0) else value


def _min(first: Value, second: Value) -> Value:
    if order("<=", first, second):
        return first
    return second if order("<", second, first) else None


def _max(first: Value, second: Value) -> Value:
    if order(">=", first, second):
        return first
    return second if order(">", second, first) else None


def _coalesce(first: Value, second: Value) -> Value:
    return first if first is not None else second


# Name -> (implementation, exact number of arguments).
FUNCTIONS: Mapping[str, tuple[Callable[..., Value], int]] = {
    "startswith": (_startswith, 2),
    "between": (_between, 3),
    "abs": (_abs, 1),
    "min": (_min, 2),
    "max": (_max, 2),
    "coalesce": (_coalesce, 2),
}
