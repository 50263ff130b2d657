"""Fixed patterns and word lists of the xyOps API, and the compiler for user-supplied regexes.

Our own patterns are compiled with ``re.ASCII`` (JS ``\\w``/``\\d`` are ASCII-only) and end in
``\\Z`` rather than ``$`` (Python's ``$`` also matches before a trailing newline; JS's does not).
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from cronwright.errors import api_error
from cronwright.expr.errors import Budget, ExprError
from cronwright.expr.regex import compile_regex
from cronwright.expr.regex import search as linear_search

# pixl-tools MATCH_BAD_KEY: keys that would clobber JS object internals (api-conventions §5).
RESERVED_WORDS: frozenset[str] = frozenset(
    {
        "constructor",
        "__defineGetter__",
        "__defineSetter__",
        "hasOwnProperty",
        "__lookupGetter__",
        "__lookupSetter__",
        "isPrototypeOf",
        "propertyIsEnumerable",
        "toString",
        "valueOf",
        "__proto__",
        "toLocaleString",
        "0",
    }
)

ID_RE = re.compile(r"^[a-z0-9_]+\Z")
WORD_RE = re.compile(r"^\w+\Z", re.ASCII)
ALGO_RE = re.compile(r"^[\w:]+\Z", re.ASCII)
ICON_RE = re.compile(r"^[\w\-]+\Z", re.ASCII)
NON_SPACE_RE = re.compile(r"\S")
ANY_RE = re.compile(r"", re.DOTALL)
ENABLED_VALUE_RE = re.compile(r"^(\d+|true|false)\Z", re.ASCII)
HTML_META_RE = re.compile(r"[<>]")
HTML_TAG_RE = re.compile(r"<[^>]*>")
PARAM_ID_RE = re.compile(r"^[\w\-.]+\Z", re.ASCII)
PARAM_ID_START_RE = re.compile(r"^[A-Za-z_]")
TIMEZONE_RE = re.compile(r"^[\w/\-+]+\Z", re.ASCII)

# events.md §5 step 3: job-override param names that may never be set through params.
OVERRIDE_RESERVED_RE = re.compile(
    r"^_xy_override_(plugin|params|id|event|enabled|category|fields|actions|limits|triggers"
    r"|workflow|command|script|uid|gid|cwd|env|kill|runner)\Z"
)

MAX_USER_REGEX_LEN = 1000


class UserRegex:
    """A regex from a user (param definition, user field, group host-name match), written for
    JavaScript's ``new RegExp(pattern)``, matched in linear time.

    Python's ``re`` backtracks: ``(a+)+$`` against 30 characters takes seconds, and validation runs
    on the event loop before authentication (``create_event`` validates first, as xyOps does), so
    one anonymous request could stall the server. ``search`` therefore runs the breadth-first
    engine of ``cronwright.expr.regex`` (cost at most ``len(text) × len(pattern)`` steps), charged
    to a budget: ``regex_budget()`` shares one among all checks of a request, else each search gets
    ``USER_REGEX_STEPS``. Constructs that need backtracking (backreferences, lookaround) are refused
    when the pattern is compiled.
    """

    __slots__ = ("pattern", "python")

    def __init__(self, pattern: str, python: str) -> None:
        self.pattern = pattern
        self.python = python

    def search(self, text: str) -> bool:
        """Whether the pattern matches anywhere in ``text``; raises ``RegexTooCostly`` when the
        step budget runs out."""
        budget = _BUDGET.get() or Budget(USER_REGEX_STEPS)
        try:
            return linear_search(self.python, text, budget)
        except ExprError as exc:
            raise RegexTooCostly(str(exc)) from None


class RegexTooCostly(Exception):
    """A user regex search used up its step budget (the text is too long for the pattern)."""


#: steps one search may take when no request-wide budget is set (about a tenth of a second)
USER_REGEX_STEPS = 200_000
_BUDGET: ContextVar[Budget | None] = ContextVar("user_regex_budget", default=None)


@contextmanager
def regex_budget(steps: int = USER_REGEX_STEPS) -> Iterator[None]:
    """Share one budget of ``steps`` among every user-regex search inside the block (one request)."""
    token = _BUDGET.set(Budget(steps))
    try:
        yield
    finally:
        _BUDGET.reset(token)


def compile_user_regex(pattern: object) -> UserRegex:
    """Compile a regex taken from a parameter definition, or raise "Invalid regular expression: ...".

    The pattern is written for JavaScript's ``new RegExp(pattern)`` and checked with Python ``re``'s
    parser. Known dialect differences and what we do about them:

    * ``\\w``, ``\\d``, ``\\b`` are ASCII in JS → matched ASCII-only (which also makes ``\\s``
      ASCII-only, a harmless narrowing).
    * JS ``$`` (no ``m`` flag) matches only at the very end → unescaped ``$`` outside a class becomes ``\\Z``.
    * JS named groups ``(?<name>…)`` → Python ``(?P<name>…)``.
    * JS ``[]`` (matches nothing) and ``[^]`` (matches anything) → ``[^\\s\\S]`` and ``[\\s\\S]``.
    * Python warns (``FutureWarning``) about ``[`` or doubled ``--&&~~||`` inside a class, which it may
      reinterpret one day; today the meaning equals JS, so that warning is silenced while compiling.
    * Unknown escapes such as ``\\q`` (literal ``q`` in JS) and inline flags like ``(?i)`` differ; the
      former are rejected by Python, the latter accepted — both are reported/used as Python sees them.
    * Backreferences (``\\1``, ``\\k<name>``) and lookaround (``(?=``, ``(?!``, ``(?<=``, ``(?<!``) are
      refused: they need a backtracking engine (see ``UserRegex``).

    Patterns longer than ``MAX_USER_REGEX_LEN`` characters are refused outright.
    """
    if not isinstance(pattern, str):
        raise api_error("Invalid regular expression: pattern must be a string")
    if len(pattern) > MAX_USER_REGEX_LEN:
        raise api_error(f"Invalid regular expression: pattern longer than {MAX_USER_REGEX_LEN} characters")
    compiled = _compile_cached(pattern)
    if isinstance(compiled, str):
        raise api_error(f"Invalid regular expression: {pattern}: {compiled}")
    return compiled


@functools.lru_cache(maxsize=512)
def _compile_cached(pattern: str) -> UserRegex | str:
    """The compiled pattern, or the compiler's error text (cached either way)."""
    python = "(?a)" + _js_to_python(pattern)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            re.compile(python)
        compile_regex(python)
    except (re.error, OverflowError, RecursionError, ValueError) as exc:
        return str(exc)
    except ExprError as exc:
        return str(exc).removeprefix("Invalid regular expression: ")
    return UserRegex(pattern, python)


def _js_to_python(pattern: str) -> str:
    """Rewrite the few JS regex constructs whose Python spelling differs (see compile_user_regex)."""
    out: list[str] = []
    i, n, in_class = 0, len(pattern), False
    while i < n:
        c = pattern[i]
        if c == "\\":
            if not in_class and pattern.startswith("k<", i + 1) and ">" in pattern[i + 3 :]:
                end = pattern.index(">", i + 3)
                out.append(f"(?P={pattern[i + 3 : end]})")
                i = end + 1
                continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
            out.append(c)
            i += 1
            continue
        if pattern.startswith("[]", i) or pattern.startswith("[^]", i):
            empty = pattern[i + 1] == "]"
            out.append(r"[^\s\S]" if empty else r"[\s\S]")
            i += 2 if empty else 3
            continue
        if c == "[":
            in_class = True
            out.append(c)
            if pattern.startswith("^", i + 1):
                out.append("^")
                i += 1
        elif c == "$":
            out.append(r"\Z")
        elif pattern.startswith("(?<", i) and i + 3 < n and pattern[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)
