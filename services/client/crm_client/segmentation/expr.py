"""Compile segment-rule expressions (user-edited data) into safe, never-raising predicates.

The language is deliberately small: literals, dotted feature names, comparisons, ``in``,
``and``/``or``/``not``, + - * / and a fixed whitelist of functions. Text is tokenised and parsed
by hand into a syntax tree; nothing is ever passed to Python's eval, exec or attribute lookup, so
a stored rule cannot reach the interpreter. Semantics (nulls, mixed types) are in ``_nodes``.

Grammar, lowest precedence first (comparisons do not chain; use between()):
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := sum (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not" "in") sum)?
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/") unary)*
    unary      := "-" unary | primary
    primary    := NUMBER | STRING | "true" | "false" | "null" | "[" [or_expr ("," or_expr)*] "]"
                | "(" or_expr ")" | NAME "(" [or_expr ("," or_expr)*] ")" | NAME
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from crm_client.segmentation._functions import FUNCTIONS
from crm_client.segmentation._lexer import MAX_EXPRESSION_LENGTH, ExpressionError, tokenize
from crm_client.segmentation._nodes import Node
from crm_client.segmentation._parser import MAX_NESTING_DEPTH, Parser

__all__ = [
    "FUNCTIONS",
    "MAX_EXPRESSION_LENGTH",
    "MAX_NESTING_DEPTH",
    "CompiledExpression",
    "ExpressionError",
    "compile_expression",
]


@dataclass(frozen=True, slots=True)
class CompiledExpression:
    """A parsed rule: its source text, the features it reads, and the tree that evaluates it."""

    source: str
    features_used: frozenset[str]
    tree: Node = field(repr=False, compare=False)

    def evaluate(self, features: Mapping[str, object]) -> bool:
        """Return whether the rule holds for ``features``; missing or odd data never raises."""
        return bool(self.tree.evaluate(features))


def compile_expression(
    text: str, *, known_features: frozenset[str] | None = None
) -> CompiledExpression:
    """Parse ``text`` into a CompiledExpression or raise ExpressionError with the offset.

    When ``known_features`` is given, every feature name must be in it, so a typo in a stored
    rule is caught when the rule is saved instead of silently never matching.
    """
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(
            f"expression is longer than {MAX_EXPRESSION_LENGTH} characters", MAX_EXPRESSION_LENGTH
        )
    parser = Parser(tokenize(text), known_features)
    tree = parser.parse()
    return CompiledExpression(text, frozenset(parser.features_used), tree)
