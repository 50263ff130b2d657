"""What the job history index holds and how a search over it is described (search-jobs.md §3).

Pure code shared by the store (which indexes stored job records) and the engine (which parses
``search_jobs`` queries): both turn values into words the same way, so a query word matches an
indexed word exactly when xyOps would match it. No SQL and no I/O here.

A search is a tree: ``Group`` (``and``/``or`` of its items; negative items subtract) of ``Term``
(words of one field, a phrase when ``phrase``) and ``Hours`` (an inclusive range of hour
numbers of ``completed``). ``JobSearch`` adds the caller's scope, the sorter and the page.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

#: word fields and where a stored job record keeps their value (``date`` is ``Hours``)
WORD_FIELDS = ("code", "source", "tags", "event", "category", "plugin", "server", "groups", "workflow")
#: every field a query may name
SEARCH_FIELDS = (*WORD_FIELDS, "date")
SORTERS = ("_id", "completed", "elapsed")
#: longest indexed word (xyOps drops longer ones)
MAX_WORD_CHARS = 255
#: hour numbers are capped here (year 2084), as xyOps' number index does
MAX_HOUR = 1_000_000

_DECIMAL = re.compile(r"\d+\.\d[\d.]*")
_WORD = re.compile(r"[a-z0-9_]+")


def value_text(value: Any) -> str | None:
    """A value as xyOps indexes it: strings as they are, numbers in decimal, arrays and objects
    as JSON text; ``None`` (absent) has no text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return js_number(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def js_number(value: float) -> str:
    """A float as JavaScript prints it (close enough for words: integers without ``.0``)."""
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def fold_ascii(text: str) -> str:
    """Unicode folded to ASCII: accents dropped (``é`` → ``e``), other letters become spaces."""
    if text.isascii():
        return text
    out = []
    for char in unicodedata.normalize("NFKD", text):
        if char.isascii():
            out.append(char)
        elif not unicodedata.combining(char):
            out.append(" ")
    return "".join(out)


def _underscore_decimal(match: re.Match[str]) -> str:
    text = match.group(0).replace(".", "_")
    return text[:-1] if text.endswith("_") else text


def word_list(value: Any) -> list[str]:
    """The words of a value, in order (search-jobs.md §3.1): ``"Flag, 2.5!"`` → ``flag``, ``2_5``."""
    text = value_text(value)
    if not text:
        return []
    text = _DECIMAL.sub(_underscore_decimal, fold_ascii(text)).lower()
    return [w for w in _WORD.findall(text) if len(w) <= MAX_WORD_CHARS]


def field_value(job: dict[str, Any], field: str) -> Any:
    if field == "workflow":
        workflow = job.get("workflow")
        return workflow.get("event") if isinstance(workflow, dict) else None
    return job.get(field)


def index_words(job: dict[str, Any]) -> list[tuple[str, str, int]]:
    """Every ``(field, word, position)`` a stored job record is found by (positions from 1)."""
    entries: list[tuple[str, str, int]] = []
    for field in WORD_FIELDS:
        seen: set[tuple[str, int]] = set()
        for pos, word in enumerate(word_list(field_value(job, field)), start=1):
            if (word, pos) not in seen:
                seen.add((word, pos))
                entries.append((field, word, pos))
    return entries


def hour_of(epoch_s: float) -> int:
    """The hour number of a time (``floor(epoch / 3600)``), capped at ``MAX_HOUR``."""
    return min(math.floor(epoch_s / 3600), MAX_HOUR)


def is_searchable(job: dict[str, Any]) -> bool:
    """Only final records of completed, non-ephemeral jobs are in the index (search-jobs.md §2)."""
    return job.get("state") == "complete" and bool(job.get("final")) and not job.get("ephemeral")


# ---- the query tree


@dataclass(frozen=True)
class Term:
    """Jobs whose ``field`` has ``words[0]`` (or, as a phrase, all ``words`` consecutively)."""

    field: str
    words: tuple[str, ...]
    phrase: bool = False
    negative: bool = False


@dataclass(frozen=True)
class Hours:
    """Jobs completed in hours ``low``..``high`` (inclusive; ``None``: open)."""

    low: int | None
    high: int | None
    negative: bool = False


@dataclass(frozen=True)
class Group:
    """``and``: every positive item holds; ``or``: any does; negative items subtract. A group
    without positive items matches nothing."""

    mode: Literal["and", "or"]
    items: tuple[Node, ...]
    negative: bool = False


Node = Term | Hours | Group


@dataclass(frozen=True)
class JobSearch:
    """One search: ``where`` (None: every searchable job), the caller's scope (None: unlimited),
    sorter, direction and page (``offset`` < 0 counts from the end; ``limit`` None: all rows)."""

    where: Group | None = None
    categories: tuple[str, ...] | None = None
    groups: tuple[str, ...] | None = None
    sort_by: str = "_id"
    descending: bool = True
    offset: int = 0
    limit: int | None = 1
