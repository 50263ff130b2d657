"""The ``search_jobs`` query language, parsed into a search tree (search-jobs.md §3–§5).

Pure: the caller passes the current time and the conductor's time zone (for ``today``, ``now``
and ``YYYY-MM-DD``). Three forms:

* ``*`` → ``ALL``; ``#id:JOB_ID`` → ``ById``;
* PxQL, the whole query in ``( … )``: ``FIELD OP VALUE`` joined by ``&``/``|``, nested with
  parentheses; its mistakes raise ``QueryError`` (the API answers ``db``, as xyOps);
* anything else is the simple syntax, which never fails: what it cannot use it drops.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from cronwright.store.jobquery import MAX_HOUR, SEARCH_FIELDS, Group, Hours, Node, Term, js_number, word_list

#: the field bare words belong to until a ``field:`` term names another
DEFAULT_FIELD = "code"
#: PxQL groups nested deeper than this are refused (a syntax error)
MAX_DEPTH = 32


class QueryError(ValueError):
    """A PxQL query that cannot be used; the message is xyOps' (``Index not found: x``, ...)."""


@dataclass(frozen=True)
class ById:
    job_id: str


@dataclass(frozen=True)
class AllJobs:
    pass


ALL = AllJobs()
Parsed = AllJobs | ById | Group


def parse_query(text: str, *, now: float, zone: ZoneInfo) -> Parsed:
    trimmed = text.strip()
    if trimmed == "*":
        return ALL
    match = re.match(r"#id:(\S+)", trimmed)
    if match:
        return ById(match.group(1))
    if re.fullmatch(r"\(.+\)", trimmed, re.DOTALL):
        return PxqlParser(trimmed, now=now, zone=zone).parse()
    return parse_simple(trimmed, now=now, zone=zone)


# ---- dates (search-jobs.md §3.2)


def date_seconds(text: str, *, now: float, zone: ZoneInfo) -> float | None:
    """A ``date`` query value in seconds: ``now``, ``today`` / ``YYYY-MM-DD`` (local midnight),
    else its digits (decimals dropped, a leading ``-`` negates); None when it has no digits."""
    value = text.strip().lower()
    if value == "now":
        return now
    if value == "today":
        day = datetime.fromtimestamp(now, zone).date()
        return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()
    match = re.fullmatch(r"(\d{4})[-/](\d{2})[-/](\d{2})", value)
    if match:
        try:
            year, month, mday = (int(g) for g in match.groups())
            return datetime(year, month, mday, tzinfo=zone).timestamp()
        except ValueError:
            return None
    negative = value.startswith("-")
    digits = re.sub(r"\D", "", value.split(".", 1)[0])
    if not digits:
        return None
    if len(digits) > 15:  # beyond every hour number (and int() of huge strings is refused)
        return -math.inf if negative else math.inf
    return -int(digits) if negative else int(digits)


def date_hour(text: str, *, now: float, zone: ZoneInfo) -> int | None:
    seconds = date_seconds(text, now=now, zone=zone)
    if seconds is None:
        return None
    if math.isinf(seconds):
        return MAX_HOUR if seconds > 0 else -MAX_HOUR
    return max(-MAX_HOUR, min(math.floor(seconds / 3600), MAX_HOUR))


def hours_for(op: str, hour: int, negative: bool = False) -> Hours:
    if op == ">=":
        return Hours(hour, None, negative)
    if op == ">":
        return Hours(hour + 1, None, negative)
    if op == "<":
        return Hours(None, hour - 1, negative)
    if op == "<=":
        return Hours(None, hour, negative)
    return Hours(hour, hour, negative)


# ---- the simple syntax (search-jobs.md §4)

_PHRASE = re.compile(r'"(.+?)"')
_FIELD_TERM = re.compile(r"(\w+):(.+)", re.ASCII | re.DOTALL)
_LITERAL = re.compile(r'"(.+)"', re.DOTALL)
_OPERATOR = re.compile(r"(=|>=|>|<=|<)(.+)", re.DOTALL)
_RANGE = re.compile(r"(.+)\.\.(.+)", re.DOTALL)


def parse_simple(text: str, *, now: float, zone: ZoneInfo) -> Group:
    """Terms ANDed together (OR lists and ranges as sub-groups); unusable terms are dropped."""
    value = text.replace("\x00", "")
    value = re.sub(r"\s*:\s*", ":", value)
    value = re.sub(r"\s*\|\s*", "|", value)
    phrases: list[str] = []

    def protect(match: re.Match[str]) -> str:
        phrases.append(match.group(1))
        return f'"\x00{len(phrases) - 1}\x00"'

    value = _PHRASE.sub(protect, value)

    def restore(part: str) -> str:
        return re.sub(r"\x00(\d+)\x00", lambda m: phrases[int(m.group(1))], part)

    field = DEFAULT_FIELD
    items: list[Node] = []
    for part in re.split(r"\s+", value):
        match = _FIELD_TERM.fullmatch(part)
        if match:
            field, part = match.group(1), match.group(2)
        if field not in SEARCH_FIELDS:
            continue
        node = _simple_term(field, part, restore, now=now, zone=zone)
        if node is not None:
            items.append(node)
    return Group("and", tuple(items))


def _simple_term(field: str, part: str, restore: Callable[[str], str], *, now: float, zone: ZoneInfo) -> Node | None:
    if "|" in part:
        alternatives: list[Node] = []
        for alternative in part.split("|"):
            if field == "date":
                hour = date_hour(restore(alternative).strip('"'), now=now, zone=zone)
                if hour is not None:
                    alternatives.append(Hours(hour, hour))
            else:
                alternatives.extend(Term(field, (word,)) for word in word_list(restore(alternative)))
        return Group("or", tuple(alternatives)) if alternatives else None
    if part.startswith("+"):
        part = part[1:]
    negative = part.startswith("-")
    if negative:
        part = part[1:]
    literal = _LITERAL.fullmatch(part)
    if field == "date":
        return _date_term(restore(literal.group(1) if literal else part), negative, now=now, zone=zone)
    words = tuple(word_list(restore(literal.group(1) if literal else part)))
    if not words:
        return None
    return Term(field, words, phrase=len(words) > 1, negative=negative)


def _date_term(part: str, negative: bool, *, now: float, zone: ZoneInfo) -> Node | None:
    span = _RANGE.fullmatch(part)
    if span:  # as xyOps: a range is never negative
        low = date_hour(span.group(1), now=now, zone=zone)
        high = date_hour(span.group(2), now=now, zone=zone)
        return None if low is None and high is None else Hours(low, high)
    op = "="
    match = _OPERATOR.fullmatch(part)
    if match:
        op, part = match.group(1), match.group(2)
    hour = date_hour(part, now=now, zone=zone)
    return None if hour is None else hours_for(op, hour, negative)


# ---- PxQL (search-jobs.md §5)

_TOKENS = re.compile(
    r"""(?P<space>\s+)
    |(?P<column>[A-Za-z]\w*)
    |(?P<operator>=~|!~|<=|<|>=|>|==|=)
    |(?P<separator>&&?|\|\|?)
    |(?P<number>-?(?:[0-9]|[1-9][0-9]+)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?\b)
    |(?P<string>"(?:\\["bfnrt/\\]|\\u[a-fA-F0-9]{4}|[^"\\])*")
    |(?P<open>\()
    |(?P<close>\))""",
    re.VERBOSE | re.ASCII,
)
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "/": "/", "\\": "\\", '"': '"'}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    col: int  # 1-based


class PxqlParser:
    """A recursive-descent parser of xyOps' PxQL grammar (``pxql.ne``)."""

    def __init__(self, text: str, *, now: float, zone: ZoneInfo) -> None:
        self._text = re.sub(r"\s+", " ", text)
        self._now, self._zone = now, zone
        self._tokens = self._lex()
        self._at = 0

    def _lex(self) -> list[_Token]:
        tokens, pos = [], 0
        while pos < len(self._text):
            match = _TOKENS.match(self._text, pos)
            if match is None:
                raise self._syntax(pos + 1, f"invalid character {self._text[pos]!r}")
            kind = match.lastgroup or ""
            if kind != "space":
                tokens.append(_Token(kind, match.group(0), pos + 1))
            pos = match.end()
        return tokens

    def _syntax(self, col: int, what: str) -> QueryError:
        return QueryError(f"Syntax error at line 1 col {col}: {what}")

    def _peek(self) -> _Token | None:
        return self._tokens[self._at] if self._at < len(self._tokens) else None

    def _take(self, *kinds: str) -> _Token:
        token = self._peek()
        if token is None:
            raise self._syntax(len(self._text) + 1, "unexpected end of query")
        if token.kind not in kinds:
            raise self._syntax(token.col, f"unexpected {token.kind} token: {token.text[:40]!r}")
        self._at += 1
        return token

    def parse(self) -> Group:
        node = self._item(0)
        extra = self._peek()
        if extra is not None:
            raise self._syntax(extra.col, f"unexpected {extra.kind} token: {extra.text[:40]!r}")
        tree = node if isinstance(node, _PGroup) else _PGroup("and", (node,))
        return self._resolve(tree)

    def _item(self, depth: int) -> _PNode:
        token = self._peek()
        if token is not None and token.kind == "open":
            return self._group(depth + 1)
        return self._expression()

    def _group(self, depth: int) -> _PNode:
        if depth > MAX_DEPTH:
            raise self._syntax(self._take("open").col, "groups nested too deeply")
        self._take("open")
        items = [self._item(depth)]
        mode = ""
        while (token := self._peek()) is not None and token.kind == "separator":
            self._at += 1
            if mode and token.text != mode:
                raise QueryError(f"Ambiguous logic operator: {token.text} (use parenthesis to group)")
            mode = token.text
            items.append(self._item(depth))
        self._take("close")
        if len(items) == 1:
            return items[0]
        return _PGroup("or" if "|" in mode else "and", tuple(items))

    def _expression(self) -> _PNode:
        column = self._take("column").text
        op = self._take("operator").text
        token = self._take("number", "string")
        value = _json_string(token.text) if token.kind == "string" else js_number(float(token.text))
        return _Pending(column, op, value)

    def _resolve(self, group: _PGroup) -> Group:
        """Look the fields up and turn values into words or hours (xyOps' ``processCriteria``)."""
        items: list[Node] = []
        for item in group.items:
            if isinstance(item, _PGroup):
                items.append(self._resolve(item))
                continue
            if item.column not in SEARCH_FIELDS:
                raise QueryError(f"Index not found: {item.column}")
            negative = item.op == "!~"
            if item.column == "date":
                hour = date_hour(item.value, now=self._now, zone=self._zone)
                if hour is not None:
                    op = item.op if item.op in ("<", "<=", ">", ">=") else "="
                    items.append(hours_for(op, hour, negative))
                continue
            words = tuple(word_list(item.value))
            if words:
                items.append(Term(item.column, words, phrase=len(words) > 1, negative=negative))
        return Group(group.mode, tuple(items))


@dataclass(frozen=True)
class _Pending:
    """A parsed ``FIELD OP VALUE`` before its field is looked up."""

    column: str
    op: str
    value: str


@dataclass(frozen=True)
class _PGroup:
    mode: Literal["and", "or"]
    items: tuple[_Pending | _PGroup, ...]


_PNode = _Pending | _PGroup


def _json_string(text: str) -> str:
    body = text[1:-1]
    return re.sub(
        r"\\(u[0-9a-fA-F]{4}|.)",
        lambda m: chr(int(m.group(1)[1:], 16)) if m.group(1).startswith("u") else _ESCAPES.get(m.group(1), ""),
        body,
    )
