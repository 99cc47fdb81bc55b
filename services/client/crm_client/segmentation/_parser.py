"""Parse a token list into the syntax tree of a rule expression (grammar in ``expr``).

Recursive descent with an explicit nesting budget, so hostile input fails with an
ExpressionError at its offset instead of exhausting Python's recursion limit.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping

from crm_client.segmentation._functions import FUNCTIONS
from crm_client.segmentation._lexer import ExpressionError, Token, TokenKind
from crm_client.segmentation._nodes import (
    Arithmetic,
    BoolOp,
    Call,
    Compare,
    FeatureRef,
    IsNull,
    ListExpr,
    Literal,
    Negate,
    Node,
    Not,
    Value,
    is_number,
    negate,
)

MAX_NESTING_DEPTH = 32

_COMPARISON_OPERATORS = frozenset({"==", "!=", "<", "<=", ">", ">="})
_KEYWORD_LITERALS: Mapping[str, Value] = {"true": True, "false": False, "null": None}


class Parser:
    """Recursive-descent parser over a token list, with an explicit nesting budget."""

    def __init__(self, tokens: list[Token], known_features: frozenset[str] | None) -> None:
        self._tokens = tokens
        self._index = 0
        self._depth = 0
        self._known_features = known_features
        self.features_used: set[str] = set()

    def parse(self) -> Node:
        """Return the tree of the whole token list."""
        if self._peek().kind is TokenKind.END:
            raise ExpressionError("expression is empty", 0)
        tree = self._or_expr()
        trailing = self._peek()
        if trailing.kind is not TokenKind.END:
            raise ExpressionError(f"unexpected {trailing.describe()}", trailing.position)
        return tree

    # -- token helpers -------------------------------------------------------------------

    def _peek(self, ahead: int = 0) -> Token:
        return self._tokens[min(self._index + ahead, len(self._tokens) - 1)]

    def _advance(self) -> Token:
        token = self._tokens[self._index]
        self._index += 1
        return token

    def _at(self, kind: TokenKind, text: str, ahead: int = 0) -> bool:
        token = self._peek(ahead)
        return token.kind is kind and token.text == text

    def _expect_operator(self, text: str, opener: Token) -> None:
        if not self._at(TokenKind.OPERATOR, text):
            found = self._peek()
            raise ExpressionError(
                f"expected {text!r} to close {opener.text!r} at position {opener.position}, "
                f"found {found.describe()}",
                found.position,
            )
        self._advance()

    def _nest(self, token: Token) -> None:
        # Counting nesting explicitly turns hostile input such as 500 "(" into an
        # ExpressionError long before Python's own recursion limit is in sight.
        self._depth += 1
        if self._depth > MAX_NESTING_DEPTH:
            raise ExpressionError(
                f"expression nests deeper than {MAX_NESTING_DEPTH} levels", token.position
            )

    def _unnest(self) -> None:
        self._depth -= 1

    # -- grammar -------------------------------------------------------------------------

    def _or_expr(self) -> Node:
        operands = [self._and_expr()]
        while self._at(TokenKind.KEYWORD, "or"):
            self._advance()
            operands.append(self._and_expr())
        return operands[0] if len(operands) == 1 else BoolOp("or", tuple(operands))

    def _and_expr(self) -> Node:
        operands = [self._not_expr()]
        while self._at(TokenKind.KEYWORD, "and"):
            self._advance()
            operands.append(self._not_expr())
        return operands[0] if len(operands) == 1 else BoolOp("and", tuple(operands))

    def _not_expr(self) -> Node:
        if not self._at(TokenKind.KEYWORD, "not"):
            return self._comparison()
        token = self._advance()
        self._nest(token)
        operand = self._not_expr()
        self._unnest()
        return Not(operand)

    def _comparison_operator(self) -> str | None:
        token = self._peek()
        if token.kind is TokenKind.OPERATOR and token.text in _COMPARISON_OPERATORS:
            return token.text
        if self._at(TokenKind.KEYWORD, "in"):
            return "in"
        if self._at(TokenKind.KEYWORD, "not") and self._at(TokenKind.KEYWORD, "in", ahead=1):
            return "not in"
        return None

    def _comparison(self) -> Node:
        left = self._sum()
        operator_token = self._peek()
        symbol = self._comparison_operator()
        if symbol is None:
            return left
        self._index += 2 if symbol == "not in" else 1
        right = self._sum()
        if self._comparison_operator() is not None:
            raise ExpressionError(
                "comparisons do not chain; use between(x, lo, hi) or 'and'",
                self._peek().position,
            )
        return _build_comparison(symbol, left, right, operator_token)

    def _sum(self) -> Node:
        return self._chain(("+", "-"), self._product)

    def _product(self) -> Node:
        return self._chain(("*", "/"), self._unary)

    def _chain(self, symbols: tuple[str, ...], operand: Callable[[], Node]) -> Node:
        first = operand()
        rest: list[tuple[str, Node]] = []
        while self._peek().kind is TokenKind.OPERATOR and self._peek().text in symbols:
            symbol = self._advance().text
            rest.append((symbol, operand()))
        return Arithmetic(first, tuple(rest)) if rest else first

    def _unary(self) -> Node:
        if not self._at(TokenKind.OPERATOR, "-"):
            return self._primary()
        token = self._advance()
        self._nest(token)
        operand = self._unary()
        self._unnest()
        if isinstance(operand, Literal) and is_number(operand.value):
            return Literal(negate(operand.value))  # Fold "-3" so lists of numbers stay literal.
        return Negate(operand)

    def _primary(self) -> Node:
        token = self._peek()
        if token.kind is TokenKind.NAME:
            self._advance()
            if self._at(TokenKind.OPERATOR, "("):
                return self._call(token)
            return self._feature(token)
        if self._at(TokenKind.OPERATOR, "("):
            return self._group()
        if self._at(TokenKind.OPERATOR, "["):
            return self._list()
        return self._literal()

    def _literal(self) -> Node:
        token = self._peek()
        if token.kind in (TokenKind.NUMBER, TokenKind.STRING):
            self._advance()
            return Literal(token.value)
        if token.kind is TokenKind.KEYWORD and token.text in _KEYWORD_LITERALS:
            self._advance()
            return Literal(_KEYWORD_LITERALS[token.text])
        raise ExpressionError(f"expected a value, found {token.describe()}", token.position)

    def _group(self) -> Node:
        opener = self._advance()
        self._nest(opener)
        inner = self._or_expr()
        self._expect_operator(")", opener)
        self._unnest()
        return inner

    def _list(self) -> Node:
        opener = self._advance()
        items = self._sequence("]", opener)
        if all(isinstance(item, Literal) for item in items):
            return Literal(tuple(item.value for item in items if isinstance(item, Literal)))
        return ListExpr(items)

    def _sequence(self, closer: str, opener: Token) -> tuple[Node, ...]:
        """Parse comma-separated expressions up to ``closer`` (already past the opener)."""
        self._nest(opener)
        items: list[Node] = []
        if not self._at(TokenKind.OPERATOR, closer):
            items.append(self._or_expr())
            while self._at(TokenKind.OPERATOR, ","):
                self._advance()
                items.append(self._or_expr())
        self._expect_operator(closer, opener)
        self._unnest()
        return tuple(items)

    def _call(self, name: Token) -> Node:
        if name.text not in FUNCTIONS:
            allowed = ", ".join(sorted(FUNCTIONS))
            raise ExpressionError(
                f"unknown function {name.text!r}; allowed functions: {allowed}", name.position
            )
        implementation, arity = FUNCTIONS[name.text]
        opener = self._advance()
        args = self._sequence(")", opener)
        if len(args) != arity:
            plural = "" if arity == 1 else "s"
            raise ExpressionError(
                f"{name.text}() takes {arity} argument{plural}, got {len(args)}", name.position
            )
        return Call(implementation, args)

    def _feature(self, name: Token) -> Node:
        known = self._known_features
        if known is not None and name.text not in known:
            close = difflib.get_close_matches(name.text, sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ExpressionError(f"unknown feature {name.text!r}{hint}", name.position)
        self.features_used.add(name.text)
        return FeatureRef(name.text)


def _build_comparison(symbol: str, left: Node, right: Node, operator_token: Token) -> Node:
    """Return the node for ``left symbol right``, rejecting comparisons that are always false."""
    left_null = isinstance(left, Literal) and left.value is None
    right_null = isinstance(right, Literal) and right.value is None
    if left_null or right_null:
        if symbol in ("==", "!="):
            operand = left if right_null else right
            return IsNull(operand, negated=symbol == "!=")
        raise ExpressionError(
            f"'{symbol}' against null is always false; use '== null' or '!= null'",
            operator_token.position,
        )
    is_membership = symbol in ("in", "not in")
    if is_membership and isinstance(right, Literal) and not isinstance(right.value, tuple):
        raise ExpressionError(
            f"the right side of '{symbol}' must be a list", operator_token.position
        )
    return Compare(symbol, left, right)
