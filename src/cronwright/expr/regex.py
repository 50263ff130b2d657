"""A linear-time regular-expression search for ``match()``: Python ``re`` syntax, no backtracking.

Python's ``re`` backtracks, so a pattern such as ``(a+)+$`` takes exponential time on a short
input, and it cannot be interrupted. Expressions come from users, so ``match()`` never runs ``re``:
the pattern is parsed by ``re``'s own parser (same syntax, same error messages) and compiled to a
small NFA program that is simulated breadth-first (Thompson/Pike). The cost is at most
``len(text) × len(program)`` steps, all charged to the evaluation budget.

Supported: literals, ``.``, classes, ``\\d \\w \\s`` and their negations, groups (capturing or
not), alternation, greedy/lazy quantifiers (``{m,n}`` is unrolled), anchors ``^ $ \\A \\Z \\b \\B``
and the ``i``, ``m``, ``s``, ``a``, ``x`` flags. Refused with a clear message: backreferences,
lookaround, conditionals, atomic groups and possessive quantifiers (they need backtracking).
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Callable
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any, Final

from .errors import MAX_REGEX_CHARS, Budget, ExprError

MAX_PROGRAM: Final = 5_000
MAX_GROUP_NESTING: Final = 40

_CHAR, _SPLIT, _JMP, _ASSERT, _MATCH = range(5)
_ASCII_WORD: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_ASCII_SPACE: Final = frozenset(" \t\n\r\f\v")

Predicate = Callable[[str], bool]


def _is_word(ch: str, ascii_only: bool) -> bool:
    return ch in _ASCII_WORD if ascii_only else (ch.isalnum() or ch == "_")


def _category(code: Any, ascii_only: bool) -> Predicate:
    name = str(code)
    if "DIGIT" in name:
        test: Predicate = (lambda ch: "0" <= ch <= "9") if ascii_only else str.isdecimal
    elif "SPACE" in name:
        test = (lambda ch: ch in _ASCII_SPACE) if ascii_only else str.isspace
    else:
        test = lambda ch: _is_word(ch, ascii_only)  # noqa: E731 - a one-line predicate
    if "NOT" in name:
        return lambda ch: not test(ch)
    return test


class _Program:
    """Compiled instructions: ``ops[i]`` with arguments ``args[i]``."""

    def __init__(self) -> None:
        self.ops: list[int] = []
        self.args: list[Any] = []
        self._empty: dict[int, bool] = {}  # id(items) -> whether emitting them adds no instruction

    def add(self, op: int, arg: Any = None) -> int:
        if len(self.ops) >= MAX_PROGRAM:
            raise ExprError("Regular expression is too large to match safely")
        self.ops.append(op)
        self.args.append(arg)
        return len(self.ops) - 1

    def emit(self, items: Any, flags: int) -> None:
        for op, av in items:
            self.emit_one(op, av, flags)

    def emit_one(self, op: Any, av: Any, flags: int) -> None:
        ignore_case = bool(flags & re.IGNORECASE)
        ascii_only = bool(flags & re.ASCII)
        if op is sre.LITERAL or op is sre.NOT_LITERAL:
            chars = _case_variants(chr(av), ignore_case)
            self.add(_CHAR, (lambda ch: ch in chars) if op is sre.LITERAL else (lambda ch: ch not in chars))
        elif op is sre.ANY:
            self.add(_CHAR, (lambda ch: True) if flags & re.DOTALL else (lambda ch: ch != "\n"))
        elif op is sre.IN:
            self.add(_CHAR, _class_predicate(av, ignore_case, ascii_only))
        elif op is sre.AT:
            self.add(_ASSERT, (str(av), bool(flags & re.MULTILINE), ascii_only))
        elif op is sre.BRANCH:
            self.emit_branch(av[1], flags)
        elif op is sre.SUBPATTERN:
            _group, add_flags, del_flags, items = av
            self.emit(items, (flags | add_flags) & ~del_flags)
        elif op is sre.MAX_REPEAT or op is sre.MIN_REPEAT:
            self.emit_repeat(*av, flags=flags)
        else:
            raise ExprError(f"Regular expression feature not supported by match(): {str(op).lower()}")

    def emit_branch(self, alternatives: list[Any], flags: int) -> None:
        jumps: list[int] = []
        for position, alternative in enumerate(alternatives):
            if position < len(alternatives) - 1:
                split = self.add(_SPLIT)
                self.emit(alternative, flags)
                jumps.append(self.add(_JMP))
                self.args[split] = (split + 1, len(self.ops))
            else:
                self.emit(alternative, flags)
        for jump in jumps:
            self.args[jump] = len(self.ops)

    def emit_repeat(self, low: int, high: Any, items: Any, *, flags: int) -> None:
        if self.emits_nothing(items):  # an empty item (``(?:){4294967294}``) repeated is still empty
            return
        for _ in range(low):
            self.emit(items, flags)
        if high is sre.MAXREPEAT:
            loop = self.add(_SPLIT)
            self.emit(items, flags)
            self.add(_JMP, loop)
            self.args[loop] = (loop + 1, len(self.ops))
            return
        for _ in range(int(high) - low):
            split = self.add(_SPLIT)
            self.emit(items, flags)
            self.args[split] = (split + 1, len(self.ops))

    def emits_nothing(self, items: Any) -> bool:
        """Whether emitting ``items`` adds no instruction, decided from the parse tree alone (never
        by emitting a trial copy, which doubles the work at every level of nested repeats); each
        subtree is examined once per compilation."""
        key = id(items)
        known = self._empty.get(key)
        if known is None:
            known = self._empty[key] = all(self._item_emits_nothing(op, av) for op, av in items)
        return known

    def _item_emits_nothing(self, op: Any, av: Any) -> bool:
        if op is sre.SUBPATTERN:
            return self.emits_nothing(av[3])
        if op is sre.BRANCH:
            alternatives = av[1]
            return len(alternatives) == 1 and self.emits_nothing(alternatives[0])
        if op is sre.MAX_REPEAT or op is sre.MIN_REPEAT:
            low, high, items = av
            return (low == 0 and high == 0) or self.emits_nothing(items)
        return False  # a character, class or assertion (or a feature emit refuses)


def _case_variants(ch: str, ignore_case: bool) -> frozenset[str]:
    if not ignore_case:
        return frozenset(ch)
    return frozenset(c for c in (ch, ch.lower(), ch.upper(), ch.casefold()) if len(c) == 1)


def _class_predicate(items: list[tuple[Any, Any]], ignore_case: bool, ascii_only: bool) -> Predicate:
    negate = False
    singles: set[str] = set()
    ranges: list[tuple[int, int]] = []
    categories: list[Predicate] = []
    for op, av in items:
        if op is sre.NEGATE:
            negate = True
        elif op is sre.LITERAL:
            singles.add(chr(av))
        elif op is sre.RANGE:
            ranges.append((int(av[0]), int(av[1])))
        elif op is sre.CATEGORY:
            categories.append(_category(av, ascii_only))
        else:
            raise ExprError(f"Regular expression feature not supported by match(): {str(op).lower()}")

    def member(ch: str) -> bool:
        code = ord(ch)
        return ch in singles or any(lo <= code <= hi for lo, hi in ranges) or any(test(ch) for test in categories)

    def predicate(ch: str) -> bool:
        found = member(ch) or (ignore_case and any(member(c) for c in _case_variants(ch, True)))
        return found != negate

    return predicate


def _check_nesting(pattern: str) -> None:
    """Refuse deeply nested groups before ``re``'s recursive parser sees them."""
    depth = 0
    escaped = in_class = False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
            if depth > MAX_GROUP_NESTING:
                raise ExprError(f"Regular expression is nested too deeply (more than {MAX_GROUP_NESTING} groups)")
        elif ch == ")":
            depth = max(0, depth - 1)


@functools.lru_cache(maxsize=256)
def compile_regex(pattern: str) -> _Program:
    """Compile ``pattern`` (Python ``re`` syntax) into a program, or raise :class:`ExprError`."""
    if len(pattern) > MAX_REGEX_CHARS:
        raise ExprError(f"Regular expression is too long (more than {MAX_REGEX_CHARS} characters)")
    _check_nesting(pattern)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = sre_parse.parse(pattern, 0)
    except re.error as exc:
        raise ExprError(f"Invalid regular expression: {exc}") from None
    except (OverflowError, ValueError, RecursionError, IndexError, TypeError) as exc:
        raise ExprError(f"Invalid regular expression: {exc}") from None
    program = _Program()
    program.emit(tree, tree.state.flags)
    program.add(_MATCH)
    return program


def _assert(kind: tuple[str, bool, bool], text: str, pos: int) -> bool:
    name, multiline, ascii_only = kind
    end = len(text)
    if name == "AT_BEGINNING":
        return pos == 0 or (multiline and text[pos - 1] == "\n")
    if name == "AT_BEGINNING_STRING":
        return pos == 0
    if name == "AT_END":
        if multiline:
            return pos == end or text[pos] == "\n"
        return pos == end or (pos == end - 1 and text[pos] == "\n")
    if name == "AT_END_STRING":
        return pos == end
    before = pos > 0 and _is_word(text[pos - 1], ascii_only)
    after = pos < end and _is_word(text[pos], ascii_only)
    return (before != after) == (name == "AT_BOUNDARY")


def search(pattern: str, text: str, budget: Budget) -> bool:
    """True when ``pattern`` matches anywhere in ``text`` (like ``re.search``), in linear time."""
    program = compile_regex(pattern)
    ops, args = program.ops, program.args
    marks = [-1] * len(ops)

    def closure(threads: list[int], start: int, pos: int) -> bool:
        """Add the character-consuming states reachable from ``start`` at ``pos``; True on a match."""
        stack = [start]
        visited = 0
        while stack:
            pc = stack.pop()
            if marks[pc] == pos:
                continue
            marks[pc] = pos
            visited += 1
            op = ops[pc]
            if op == _CHAR:
                threads.append(pc)
            elif op == _SPLIT:
                stack.append(args[pc][1])
                stack.append(args[pc][0])
            elif op == _JMP:
                stack.append(args[pc])
            elif op == _ASSERT:
                if _assert(args[pc], text, pos):
                    stack.append(pc + 1)
            else:
                budget.charge(visited)
                return True
        budget.charge(visited)
        return False

    current: list[int] = []
    if closure(current, 0, 0):
        return True
    for pos, ch in enumerate(text):
        following: list[int] = []
        budget.charge(1 + len(current))
        for pc in current:
            if args[pc](ch) and closure(following, pc + 1, pos + 1):
                return True
        if closure(following, 0, pos + 1):
            return True
        current = following
    return False
