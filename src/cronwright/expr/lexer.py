"""Split expression source into tokens: numbers, strings, names and operators.

The lexer is a single linear scan with no backtracking. Positions in error messages are 0-based
character offsets into the source. A ``.`` directly before a digit starts a number (``.5``) unless
it follows an operand, where it is a property access; ``-`` is always an operator (the parser folds
``-5`` into a literal).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from .errors import MAX_SOURCE_CHARS, ExprError, show
from .values import normalize

_NUMBER: Final = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_NAME: Final = re.compile(r"(?:[^\W\d]|\$)(?:\w|\$)*")
_OPERATORS: Final = ("//", "==", "!=", "<=", ">=", "&&", "||")
_SINGLE: Final = frozenset("+-*/%<>!?:.,()[]{}|")
_ESCAPES: Final = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
_HEX4: Final = re.compile(r"[0-9a-fA-F]{4}", re.ASCII)
_HEX2: Final = re.compile(r"[0-9a-fA-F]{2}", re.ASCII)
_OPERAND_END: Final = frozenset({")", "]", "}"})


@dataclass(frozen=True, slots=True)
class Token:
    """One token: ``kind`` is "num", "str", "name", "op" or "eof"; ``value`` the parsed value."""

    kind: str
    value: Any
    pos: int
    text: str


def tokenize(source: str) -> list[Token]:
    """Return the tokens of ``source`` ending with an "eof" token, or raise :class:`ExprError`."""
    if len(source) > MAX_SOURCE_CHARS:
        raise ExprError(f"Expression is too long (more than {MAX_SOURCE_CHARS:,} characters)")
    tokens: list[Token] = []
    pos, end = 0, len(source)
    while pos < end:
        ch = source[pos]
        if ch.isspace():
            pos += 1
            continue
        after_operand = bool(tokens) and (tokens[-1].kind in ("num", "str", "name") or tokens[-1].text in _OPERAND_END)
        if (ch.isascii() and ch.isdigit()) or (ch == "." and not after_operand and _is_digit(source, pos + 1)):
            found = _NUMBER.match(source, pos)
            assert found is not None  # a digit, or "." plus a digit, always matches
            text = found.group(0)
            tokens.append(Token("num", normalize(float(text)), pos, text))
            pos = found.end()
        elif ch in "'\"":
            value, stop = _read_string(source, pos)
            tokens.append(Token("str", value, pos, source[pos:stop]))
            pos = stop
        elif (name := _NAME.match(source, pos)) is not None:
            tokens.append(Token("name", name.group(0), pos, name.group(0)))
            pos = name.end()
        elif source.startswith(_OPERATORS, pos):
            text = source[pos : pos + 2]
            tokens.append(Token("op", text, pos, text))
            pos += 2
        elif ch in _SINGLE:
            tokens.append(Token("op", ch, pos, ch))
            pos += 1
        else:
            hint = " (did you mean '=='?)" if ch == "=" else " (did you mean '&&'?)" if ch == "&" else ""
            raise ExprError(f"Unexpected character '{show(ch)}' at position {pos}{hint}", pos)
    tokens.append(Token("eof", None, end, ""))
    return tokens


def _is_digit(source: str, pos: int) -> bool:
    return pos < len(source) and source[pos] in "0123456789"


def _read_string(source: str, start: int) -> tuple[str, int]:
    """Read the quoted string at ``start``; return its value and the index after the closing quote."""
    quote = source[start]
    parts: list[str] = []
    pos, end = start + 1, len(source)
    while True:
        stop = _next_special(source, pos, quote)
        if stop < 0:
            raise ExprError(f"Unterminated string starting at position {start}", start)
        parts.append(source[pos:stop])
        if source[stop] == quote:
            return _join_surrogates("".join(parts)), stop + 1
        if stop + 1 >= end:
            raise ExprError(f"Unterminated string starting at position {start}", start)
        value, pos = _read_escape(source, stop + 1)
        parts.append(value)


def _next_special(source: str, pos: int, quote: str) -> int:
    """Index of the next quote or backslash at or after ``pos``, or -1."""
    at_quote = source.find(quote, pos)
    at_slash = source.find("\\", pos)
    if at_slash < 0 or (0 <= at_quote < at_slash):
        return at_quote
    return at_slash


def _read_escape(source: str, pos: int) -> tuple[str, int]:
    """Decode the escape whose letter is at ``pos`` (JavaScript rules: unknown escapes keep the letter)."""
    letter = source[pos]
    if letter in _ESCAPES:
        return _ESCAPES[letter], pos + 1
    if letter == "u" and source.startswith("{", pos + 1):
        close = source.find("}", pos + 2)
        digits = source[pos + 2 : close] if close > 0 else ""
        if not (0 < len(digits) <= 6 and all(c in "0123456789abcdefABCDEF" for c in digits)):
            raise ExprError(f"Invalid Unicode escape at position {pos - 1}", pos - 1)
        code = int(digits, 16)
        if code > 0x10FFFF:
            raise ExprError(f"Invalid Unicode escape at position {pos - 1}", pos - 1)
        return chr(code), close + 1
    if letter in "ux":
        pattern = _HEX4 if letter == "u" else _HEX2
        found = pattern.match(source, pos + 1)
        if found is None:
            raise ExprError(f"Invalid escape sequence at position {pos - 1}", pos - 1)
        return chr(int(found.group(0), 16)), found.end()
    if letter in "\r\n\u2028\u2029":  # line continuation
        skip = 2 if source.startswith("\r\n", pos) else 1
        return "", pos + skip
    return letter, pos + 1


def _join_surrogates(text: str) -> str:
    """Combine escaped surrogate pairs into one character and replace lone surrogates with U+FFFD."""
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
