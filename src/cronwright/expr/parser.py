"""A recursive-descent (precedence-climbing) parser for the JEXL subset that xyOps uses.

Grammar, loosest binding first (JEXL precedences; all binary operators are left-associative)::

    expression  := logical [ "?" expression ":" expression | "?" ":" expression ]
    logical     := compare { ("&&" | "||") compare }          # one level, as in JEXL
    compare     := additive { ("==" | "!=" | "<" | "<=" | ">" | ">=" | "in") additive }
    additive    := term { ("+" | "-") term }
    term        := unary { ("*" | "/" | "//" | "%") unary }
    unary       := { "!" | "-" } postfix
    postfix     := primary { "." NAME | "[" expression "]" | "|" NAME [ "(" args ")" ] }
    primary     := NUMBER | STRING | true | false | null | NAME [ "(" args ")" ]
                 | "(" expression ")" | "[" args "]" | "{" entries "}" | "." NAME  (inside [ ] only)

A bracket whose expression uses a relative name (``.field``) is a filter: ``list[.size > 2]``.
Recursion is bounded by ``MAX_DEPTH`` nested sub-expressions, and the finished tree may not be
higher than ``MAX_DEPTH`` either, so neither parsing nor evaluation can exhaust Python's stack.
"""

from __future__ import annotations

from typing import Final

from .errors import MAX_DEPTH, ExprError, show
from .lexer import Token, tokenize
from .nodes import (
    ArrayLiteral,
    Attr,
    Call,
    Chain,
    Conditional,
    Filter,
    Index,
    Literal,
    Logical,
    Name,
    Node,
    ObjectLiteral,
    Path,
    Pipe,
    RelativeName,
    Step,
    Unary,
)
from .values import format_number, normalize

PRECEDENCE: Final = {
    "&&": 10,
    "||": 10,
    "==": 20,
    "!=": 20,
    "<": 20,
    "<=": 20,
    ">": 20,
    ">=": 20,
    "in": 20,
    "+": 30,
    "-": 30,
    "*": 40,
    "/": 40,
    "//": 40,
    "%": 40,
}
_KEYWORDS: Final = {"true": True, "false": False, "null": None}
_TOO_DEEP: Final = f"Expression is nested too deeply (more than {MAX_DEPTH} levels)"


def parse(source: str) -> Node:
    """Parse ``source`` into a syntax tree or raise :class:`ExprError` describing the first problem."""
    return _Parser(tokenize(source)).parse_all()


def _height(*children: Node) -> int:
    height = 1 + max((child.height for child in children), default=0)
    if height > MAX_DEPTH:
        raise ExprError(_TOO_DEEP)
    return height


class _Parser:
    """Parser state: the token list, a cursor, the recursion depth and the open-filter stack."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0
        self.filters: list[bool] = []

    # -- token helpers -------------------------------------------------------------------------

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "eof":
            self.index += 1
        return token

    def at(self, text: str) -> bool:
        token = self.token
        return token.kind == "op" and token.text == text

    def expect(self, text: str) -> Token:
        if not self.at(text):
            token = self.token
            if token.kind == "eof":
                raise ExprError(f"Unexpected end of expression (expected '{text}')", token.pos)
            raise ExprError(f"Expected '{text}' at position {token.pos} but found '{show(token.text)}'", token.pos)
        return self.advance()

    def unexpected(self, token: Token) -> ExprError:
        if token.kind == "eof":
            return ExprError("Unexpected end of expression", token.pos)
        return ExprError(f"Unexpected token '{show(token.text)}' at position {token.pos}", token.pos)

    def binary_op(self) -> str | None:
        token = self.token
        if token.kind == "op" and token.text in PRECEDENCE:
            return str(token.text)
        if token.kind == "name" and token.text == "in":
            return "in"
        return None

    # -- grammar -------------------------------------------------------------------------------

    def parse_all(self) -> Node:
        if self.token.kind == "eof":
            raise ExprError("Empty expression", 0)
        node = self.expression()
        if self.token.kind != "eof":
            raise self.unexpected(self.token)
        return node

    def expression(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(_TOO_DEEP, self.token.pos)
        node = self.binary(PRECEDENCE["&&"])
        if self.at("?"):
            self.advance()
            then: Node | None = None
            if not self.at(":"):
                then = self.expression()
            self.expect(":")
            otherwise = self.expression()
            children = (node, otherwise) if then is None else (node, then, otherwise)
            node = Conditional(height=_height(*children), test=node, then=then, otherwise=otherwise)
        self.depth -= 1
        return node

    def binary(self, min_precedence: int) -> Node:
        left = self.unary()
        while (op := self.binary_op()) is not None and PRECEDENCE[op] >= min_precedence:
            level = PRECEDENCE[op]
            rest: list[tuple[str, Node]] = []
            while (op := self.binary_op()) is not None and PRECEDENCE[op] == level:
                self.advance()
                rest.append((op, self.binary(level + 1)))
            height = _height(left, *(node for _, node in rest))
            if level == PRECEDENCE["&&"]:
                left = Logical(height=height, first=left, rest=tuple(rest))
            else:
                left = Chain(height=height, first=left, rest=tuple(rest))
        return left

    def unary(self) -> Node:
        prefixes: list[Token] = []
        while self.at("!") or self.at("-"):
            prefixes.append(self.advance())
        node = self.postfix()
        for prefix in reversed(prefixes):
            if prefix.text == "-" and isinstance(node, Literal) and _is_number(node.value):
                node = Literal(height=1, value=normalize(-float(node.value)))
            else:
                node = Unary(height=_height(node), op=prefix.text, operand=node)
        return node

    def postfix(self) -> Node:
        base = self.primary()
        steps: list[Step] = []
        heights = [base.height]
        while True:
            if self.at("."):
                self.advance()
                steps.append(Attr(self.property_name()))
            elif self.at("["):
                self.advance()
                self.filters.append(False)
                expr = self.expression()
                relative = self.filters.pop()
                self.expect("]")
                steps.append(Filter(expr) if relative else Index(expr))
                heights.append(expr.height)
            elif self.at("|"):
                self.advance()
                name = self.advance()
                if name.kind != "name":
                    raise ExprError(f"Expected a transform name after '|' at position {name.pos}", name.pos)
                args = self.arguments() if self.at("(") else ()
                steps.append(Pipe(str(name.text), args))
                heights.extend(arg.height for arg in args)
            else:
                break
        if not steps:
            return base
        height = 1 + max(heights)
        if height > MAX_DEPTH:
            raise ExprError(_TOO_DEEP)
        return Path(height=height, base=base, steps=tuple(steps))

    def property_name(self) -> str:
        token = self.advance()
        if token.kind != "name":
            if token.kind == "eof":
                raise ExprError("Unexpected end of expression (expected a property name after '.')", token.pos)
            raise ExprError(f"Expected a property name after '.' at position {token.pos}", token.pos)
        return str(token.text)

    def arguments(self) -> tuple[Node, ...]:
        """Parse ``( a, b, ... )`` (the cursor is on the opening parenthesis)."""
        self.expect("(")
        return self.items(")")

    def items(self, closing: str) -> tuple[Node, ...]:
        items: list[Node] = []
        if not self.at(closing):
            items.append(self.expression())
            while self.at(","):
                self.advance()
                items.append(self.expression())
        self.expect(closing)
        return tuple(items)

    def primary(self) -> Node:
        token = self.advance()
        if token.kind in ("num", "str"):
            return Literal(height=1, value=token.value)
        if token.kind == "name":
            if token.text in _KEYWORDS:
                return Literal(height=1, value=_KEYWORDS[token.text])
            if token.text == "in":
                raise self.unexpected(token)
            if self.at("("):
                args = self.arguments()
                return Call(height=_height(*args), name=str(token.text), args=args)
            return Name(height=1, name=str(token.text))
        if token.kind == "op":
            if token.text == "(":
                node = self.expression()
                self.expect(")")
                return node
            if token.text == "[":
                items = self.items("]")
                return ArrayLiteral(height=_height(*items), items=items)
            if token.text == "{":
                return self.object_literal()
            if token.text == "." and self.token.kind == "name":
                if not self.filters:
                    raise ExprError(
                        f"Relative name '.{show(self.token.text)}' at position {token.pos} is only allowed inside [ ]",
                        token.pos,
                    )
                self.filters[-1] = True
                return RelativeName(height=1, name=str(self.advance().text))
        raise self.unexpected(token)

    def object_literal(self) -> Node:
        entries: list[tuple[str, Node]] = []
        if not self.at("}"):
            while True:
                key = self.advance()
                if key.kind in ("name", "str"):
                    name = str(key.value if key.kind == "str" else key.text)
                elif key.kind == "num":
                    name = format_number(key.value)
                elif key.kind == "eof":
                    raise self.unexpected(key)
                else:
                    raise ExprError(f"Expected an object key at position {key.pos}", key.pos)
                self.expect(":")
                entries.append((name, self.expression()))
                if not self.at(","):
                    break
                self.advance()
        self.expect("}")
        return ObjectLiteral(height=_height(*(node for _, node in entries)), entries=tuple(entries))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
