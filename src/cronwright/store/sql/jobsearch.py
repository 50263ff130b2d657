"""``search_jobs`` in SQL: a ``JobSearch`` tree compiled into one statement over the job history
index (``job_search`` + ``job_words``), never by reading job documents.

The page statement selects the matching ids (sorted, offset, limit) from the narrow
``job_search`` table, joins them to ``jobs`` for the documents, and carries the total as an
uncorrelated scalar subquery (computed once). Only an empty page needs a second statement
for the total.

Plans: at the top level the most selective positive criterion (weighed by an index-only count,
as xyOps weighs its criteria) drives the search as an ``IN`` over the word index or the hour
range; every other criterion is a correlated ``EXISTS`` probe of the word index's primary key,
so a rare word makes a search fast whatever else it asks. Nested groups use ``IN``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, exists, false, func, not_, or_, select, true
from sqlalchemy.sql import Select

from cronwright import jsonutil
from cronwright.store.jobquery import Group, Hours, JobSearch, Node, Term, word_list
from cronwright.store.sql import tables

s = tables.job_search
w = tables.job_words
jobs = tables.jobs
#: more criteria than this at the top level are not weighed (each weighing is one count)
MAX_WEIGHED = 8


def _term_ids(term: Term) -> Select[Any]:
    """The ids of jobs matching a (positive) word term, as an uncorrelated subquery."""
    first = w.alias()
    where = [first.c.field == term.field, first.c.word == term.words[0]]
    if term.phrase:
        where.extend(_phrase_rest(term, first))
    return select(first.c.job_id).where(*where)


def _phrase_rest(term: Term, first: Any) -> list[ColumnElement[bool]]:
    rest: list[ColumnElement[bool]] = []
    for offset, word in enumerate(term.words[1:], start=1):
        nxt = w.alias()
        rest.append(
            exists().where(
                nxt.c.field == term.field,
                nxt.c.word == word,
                nxt.c.job_id == first.c.job_id,
                nxt.c.pos == first.c.pos + offset,
            )
        )
    return rest


def _term_probe(term: Term) -> ColumnElement[bool]:
    """A word term as a correlated probe of the word index for the current ``job_search`` row."""
    first = w.alias()
    where = [first.c.field == term.field, first.c.word == term.words[0], first.c.job_id == s.c.id]
    if term.phrase:
        where.extend(_phrase_rest(term, first))
    return exists().where(*where)


def _hours(node: Hours) -> ColumnElement[bool]:
    parts = []
    if node.low is not None:
        parts.append(s.c.hour >= node.low)
    if node.high is not None:
        parts.append(s.c.hour <= node.high)
    return and_(s.c.hour.is_not(None), *parts)


def _any_words(group: Group) -> tuple[str, list[str]] | None:
    """An ``or`` of single words of one field (``code:a|b|c``): one ``IN`` list."""
    if group.mode != "or" or not group.items:
        return None
    fields, words = set(), []
    for item in group.items:
        if not isinstance(item, Term) or item.phrase or item.negative:
            return None
        fields.add(item.field)
        words.append(item.words[0])
    return (fields.pop(), words) if len(fields) == 1 else None


def _condition(node: Node, *, probe: bool) -> ColumnElement[bool]:
    """A positive node as a condition on the current ``job_search`` row."""
    if isinstance(node, Term):
        return _term_probe(node) if probe else s.c.id.in_(_term_ids(node))
    if isinstance(node, Hours):
        return _hours(node)
    simple = _any_words(node)
    if simple is not None:
        field, words = simple
        if probe:
            return exists().where(w.c.field == field, w.c.word.in_(words), w.c.job_id == s.c.id)
        return s.c.id.in_(select(w.c.job_id).where(w.c.field == field, w.c.word.in_(words)))
    return _group(node, probe=False)


def _group(group: Group, *, probe: bool, driver: Node | None = None) -> ColumnElement[bool]:
    positive = [i for i in group.items if not i.negative]
    negative = [i for i in group.items if i.negative]
    if not positive:
        return false()
    conds = [_condition(i, probe=probe and i is not driver) for i in positive]
    matched = and_(*conds) if group.mode == "and" else or_(*conds)
    if not negative:
        return matched
    return and_(matched, *(not_(_condition(_positive(i), probe=True)) for i in negative))


def _positive(node: Node) -> Node:
    if isinstance(node, Term):
        return Term(node.field, node.words, node.phrase)
    if isinstance(node, Hours):
        return Hours(node.low, node.high)
    return Group(node.mode, node.items)


def _weight(conn: Connection, node: Node) -> int:
    """How many index entries a positive criterion touches (an index-only count)."""
    if isinstance(node, Term):
        query = select(func.count()).select_from(w).where(w.c.field == node.field, w.c.word == node.words[0])
    elif isinstance(node, Hours):
        query = select(func.count()).select_from(s).where(_hours(node))
    else:
        simple = _any_words(node)
        if simple is None:
            return 1 << 62
        query = select(func.count()).select_from(w).where(w.c.field == simple[0], w.c.word.in_(simple[1]))
    return int(conn.execute(query).scalar_one())


def compile_where(conn: Connection, search: JobSearch) -> ColumnElement[bool]:
    """The whole filter: the query tree plus the caller's scope."""
    conds: list[ColumnElement[bool]] = []
    if search.where is not None:
        root = search.where
        driver = None
        positive = [i for i in root.items if not i.negative]
        if root.mode == "and" and 1 < len(positive) <= MAX_WEIGHED:
            driver = min(positive, key=lambda node: _weight(conn, node))
        elif positive:
            driver = positive[0]
        conds.append(_group(root, probe=root.mode == "and", driver=driver))
    if search.categories is not None:
        conds.append(s.c.category.in_(search.categories) if search.categories else false())
    if search.groups is not None:
        words = sorted({ws[0] for g in search.groups if len(ws := word_list(g)) == 1})
        conds.append(
            exists().where(w.c.field == "groups", w.c.word.in_(words), w.c.job_id == s.c.id) if words else false()
        )
    return and_(true(), *conds)


def _order(search: JobSearch, table: Any) -> list[Any]:
    columns = [table.c.id] if search.sort_by == "_id" else [table.c[search.sort_by], table.c.id]
    return [c.desc() for c in columns] if search.descending else [c.asc() for c in columns]


def search_jobs(conn: Connection, search: JobSearch) -> tuple[list[dict[str, Any]], int]:
    """The page of matching job records (in sort order) and the number of matches."""
    where = compile_where(conn, search)
    count = select(func.count()).select_from(s).where(where)
    offset = search.offset
    total: int | None = None
    if offset < 0:
        total = int(conn.execute(count).scalar_one())
        offset = max(0, total + offset)
    if search.limit is not None and search.limit <= 0:
        return [], total if total is not None else int(conn.execute(count).scalar_one())
    ids = select(s.c.id, s.c.completed, s.c.elapsed).where(where).order_by(*_order(search, s)).offset(offset)
    if search.limit is not None:
        ids = ids.limit(search.limit)
    page = ids.subquery("page")
    statement = (
        select(jobs.c.doc, count.scalar_subquery().label("total"))
        .select_from(page.join(jobs, jobs.c.id == page.c.id))
        .order_by(*_order(search, page))
    )
    rows = conn.execute(statement).all()
    if rows:
        total = int(rows[0].total)
    elif total is None:
        total = int(conn.execute(count).scalar_one())
    return [jsonutil.loads(row.doc) for row in rows], total
