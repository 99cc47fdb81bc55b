"""Split segment-rule expression text into tokens that remember where they came from.

Segment rules are user-edited data, so the lexer accepts only a small, explicit alphabet:
numbers, quoted strings, dotted feature names, a fixed set of keywords and operators. Anything
else is rejected with its offset so the API can point the user at the offending character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

MAX_EXPRESSION_LENGTH = 2_000

KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null"})

# Longest operators first so that "<=" is never read as "<" followed by "=".
_OPERATORS = ("==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "(", ")", "[", "]", ",")

# ASCII digits only: str.isdigit() and \d would also accept e.g. Arabic-Indic digits.
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_NAME_CONTINUATION = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.")
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t"}


class ExpressionError(ValueError):
    """Report an expression that cannot be compiled, with the 0-based offset of the problem."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at position {position})")
        self.message = message
        self.position = position


class TokenKind(Enum):
    """Name the lexical categories the parser distinguishes."""

    NUMBER = "number"
    STRING = "string"
    NAME = "name"
    KEYWORD = "keyword"
    OPERATOR = "operator"
    END = "end"


@dataclass(frozen=True, slots=True)
class Token:
    """Hold one token: its kind, source text, literal value (if any) and start offset."""

    kind: TokenKind
    text: str
    position: int
    value: int | Decimal | str | None = None

    def describe(self) -> str:
        """Return how error messages should refer to this token."""
        if self.kind is TokenKind.END:
            return "end of expression"
        return repr(self.text)


def tokenize(source: str) -> list[Token]:
    """Return the tokens of ``source`` followed by an END token, or raise ExpressionError."""
    tokens: list[Token] = []
    position = 0
    length = len(source)
    while position < length:
        char = source[position]
        if char.isspace():
            position += 1
            continue
        if char in "'\"":
            token, position = _read_string(source, position)
        elif char.isascii() and (char.isdigit() or char == "."):
            token, position = _read_number(source, position)
        elif char.isascii() and (char.isalpha() or char == "_"):
            token, position = _read_name(source, position)
        else:
            token, position = _read_operator(source, position)
        tokens.append(token)
    tokens.append(Token(TokenKind.END, "", length))
    return tokens


def _read_number(source: str, start: int) -> tuple[Token, int]:
    match = _NUMBER.match(source, start)
    if match is None:
        raise ExpressionError("unexpected '.'", start)
    end = match.end()
    # "1e5", "2.5.1" or "12abc" must not silently split into a number and something else.
    if end < len(source) and source[end] in _NAME_CONTINUATION:
        raise ExpressionError(f"malformed number {source[start : end + 1]!r}", start)
    text = match.group()
    value: int | Decimal = Decimal(text) if "." in text else int(text)
    return Token(TokenKind.NUMBER, text, start, value), end


def _read_name(source: str, start: int) -> tuple[Token, int]:
    match = _NAME.match(source, start)
    assert match is not None  # The caller checked the first character.
    end = match.end()
    text = match.group()
    if end < len(source) and source[end] == ".":
        raise ExpressionError(f"malformed name {source[start : end + 1]!r}", start)
    # Underscore-led segments are how Python spells internals (__import__, _private); refusing
    # them keeps rule text from even looking like an attempt to reach them.
    if any(segment.startswith("_") for segment in text.split(".")):
        raise ExpressionError(f"names may not start with an underscore: {text!r}", start)
    kind = TokenKind.KEYWORD if text in KEYWORDS else TokenKind.NAME
    return Token(kind, text, start), end


def _read_string(source: str, start: int) -> tuple[Token, int]:
    quote = source[start]
    chars: list[str] = []
    position = start + 1
    while position < len(source):
        char = source[position]
        if char == quote:
            text = source[start : position + 1]
            return Token(TokenKind.STRING, text, start, "".join(chars)), position + 1
        if char == "\\":
            escaped = source[position + 1 : position + 2]
            if escaped not in _ESCAPES:
                raise ExpressionError(f"unknown escape '\\{escaped}' in string", position)
            chars.append(_ESCAPES[escaped])
            position += 2
            continue
        chars.append(char)
        position += 1
    raise ExpressionError("unterminated string", start)


def _read_operator(source: str, start: int) -> tuple[Token, int]:
    for operator in _OPERATORS:
        if source.startswith(operator, start):
            return Token(TokenKind.OPERATOR, operator, start), start + len(operator)
    char = source[start]
    if char == "=":
        raise ExpressionError("use '==' to compare, not '='", start)
    if source.startswith(("&&", "||"), start):
        raise ExpressionError("use 'and' / 'or' instead of '&&' / '||'", start)
    raise ExpressionError(f"unexpected character {char!r}", start)
