"""The syntax tree produced by the parser and walked by the interpreter.

Nodes are immutable. Chains of operators of one precedence level (``a + b - c``) and chains of
property steps (``a.b[0].c|upper``) are stored flat rather than as left-nested pairs, so the tree's
height reflects real nesting only; the parser refuses trees higher than ``MAX_DEPTH``. Each node
records its ``height`` so that check is O(1) per node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Node:
    """Base class; ``height`` is 1 for leaves and 1 + the highest child otherwise."""

    height: int


@dataclass(frozen=True, slots=True)
class Literal(Node):
    """A constant JSON value (number, string, boolean, null)."""

    value: Any


@dataclass(frozen=True, slots=True)
class Name(Node):
    """A top-level identifier looked up in the context."""

    name: str


@dataclass(frozen=True, slots=True)
class RelativeName(Node):
    """``.name`` inside a filter: a property of the array element being tested."""

    name: str


@dataclass(frozen=True, slots=True)
class Attr:
    """Path step ``.name``."""

    name: str


@dataclass(frozen=True, slots=True)
class Index:
    """Path step ``[expr]`` (property, index, or ``[bool]`` keeping/dropping the subject)."""

    expr: Node


@dataclass(frozen=True, slots=True)
class Filter:
    """Path step ``[expr-with-.relative-names]``: keep the array elements for which ``expr`` is truthy."""

    expr: Node


@dataclass(frozen=True, slots=True)
class Pipe:
    """Path step ``|name(args)``: a JEXL transform, i.e. ``name(subject, *args)``."""

    name: str
    args: tuple[Node, ...]


Step = Attr | Index | Filter | Pipe


@dataclass(frozen=True, slots=True)
class Path(Node):
    """A base expression followed by property steps, applied left to right."""

    base: Node
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class ArrayLiteral(Node):
    """``[a, b, ...]``."""

    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class ObjectLiteral(Node):
    """``{key: value, ...}`` with keys already resolved to strings."""

    entries: tuple[tuple[str, Node], ...]


@dataclass(frozen=True, slots=True)
class Unary(Node):
    """``!x`` or ``-x``."""

    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Chain(Node):
    """Left-associative operators of one precedence level: ``first op1 x1 op2 x2 ...``."""

    first: Node
    rest: tuple[tuple[str, Node], ...]


@dataclass(frozen=True, slots=True)
class Logical(Node):
    """A chain of ``&&`` / ``||`` (one JEXL precedence level), short-circuiting left to right."""

    first: Node
    rest: tuple[tuple[str, Node], ...]


@dataclass(frozen=True, slots=True)
class Conditional(Node):
    """``test ? then : otherwise``; ``then`` is ``None`` for the Elvis form ``test ?: otherwise``."""

    test: Node
    then: Node | None
    otherwise: Node


@dataclass(frozen=True, slots=True)
class Call(Node):
    """``name(args)``: a built-in (or caller-supplied) function."""

    name: str
    args: tuple[Node, ...]
