"""``search_jobs``: the job history, searched through the store's index (search-jobs.md).

Parameters keep xyOps' parsing quirks (§1): ``limit`` defaults to 1 and ``"0"`` or a non-number
means all rows, a negative ``offset`` counts from the end, ``sort_dir`` other than negative sorts
ascending. Scope is applied to results (the CRONWRIGHT DECISION of §6): every row satisfies the
caller's category and group restrictions and ``list.length`` counts only such rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from cronwright.clock import Clock
from cronwright.engine.common import MAX_SAFE_INT
from cronwright.engine.identity import Identity
from cronwright.engine.jobs.search_query import AllJobs, ById, QueryError, parse_query
from cronwright.errors import BadRequest, api_error
from cronwright.store.base import Store
from cronwright.store.jobquery import SORTERS, JobSearch, is_searchable

Authenticate = Callable[[], Identity]
#: left out of rows unless ``verbose`` or ``select`` (search-jobs.md §7)
HEAVY_KEYS = ("actions", "activity", "html", "limits", "procs", "conns", "table", "timelines", "input", "data", "files")
#: longer queries are refused (``api``): they would only make statements nobody needs
MAX_QUERY_CHARS = 4096
#: ... and so are queries with more criteria than this
MAX_CRITERIA = 64
_JS_INT = re.compile(r"^\s*([+-]?\d+)")


def js_parse_int(value: Any) -> int | None:
    """JavaScript's ``parseInt(String(value))``: leading digits, else None (NaN)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    match = _JS_INT.match(str(value))
    if match is None:
        return None
    digits = match.group(1)
    if len(digits.lstrip("+-")) > 16:
        return MAX_SAFE_INT if not digits.startswith("-") else -MAX_SAFE_INT
    return max(-MAX_SAFE_INT, min(int(digits), MAX_SAFE_INT))


def page_params(params: dict[str, Any]) -> tuple[int, int | None, bool]:
    """(offset, limit or None for all rows, descending) with xyOps' parsing (§1)."""
    offset = js_parse_int(params.get("offset") or 0) or 0
    raw_limit = params.get("limit")
    limit: int | None = js_parse_int(raw_limit or 1)
    if limit == 0 or limit is None:  # "0" in a query string is truthy in JavaScript; NaN: all
        limit = None
    sort_dir = params.get("sort_dir")
    if sort_dir in (None, "", 0, False):
        descending = True
    else:
        number = js_parse_int(sort_dir)
        descending = number is not None and number < 0
    return offset, limit, descending


def db_error(message: str) -> BadRequest:
    return BadRequest("db", f"Failed DB search: Error: {message}")


def select_keys(params: dict[str, Any]) -> list[str] | None:
    select = params.get("select")
    if select is None:
        return None
    if isinstance(select, str):
        return [k for k in re.split(r",\s*", select)]
    if isinstance(select, list):
        return [k if isinstance(k, str) else str(k) for k in select]
    raise api_error("Select parameter must be an array.")


@dataclass(frozen=True)
class SearchPlan:
    who: Identity
    keys: list[str] | None
    verbose: bool
    search: JobSearch | None = None
    by_id: str = ""


class JobSearcher:
    def __init__(self, store: Store, clock: Clock, zone: Callable[[], ZoneInfo]) -> None:
        self._store = store
        self._clock = clock
        self._zone = zone

    def search(self, params: dict[str, Any], authenticate: Authenticate) -> dict[str, Any]:
        return self.run(self.prepare(params, authenticate))

    def prepare(self, params: dict[str, Any], authenticate: Authenticate) -> SearchPlan:
        """Check the parameters and the caller, parse the query (quick: on the event loop)."""
        keys = select_keys(params)
        query = params.get("query")
        if query is None or query == "":
            query = "*"
        if not isinstance(query, str):
            raise api_error("Malformed parameter: query")
        if len(query) > MAX_QUERY_CHARS:
            raise api_error(f"Malformed parameter: query (longer than {MAX_QUERY_CHARS} characters)")
        who = authenticate()
        sort_by = params.get("sort_by") or "_id"
        if sort_by not in SORTERS:
            shown = ",".join(map(str, sort_by)) if isinstance(sort_by, list) else str(sort_by)
            raise db_error(f"Cannot find sorter: {shown[:100]}")
        try:
            parsed = parse_query(query, now=self._clock.now(), zone=self._zone())
        except QueryError as exc:
            raise db_error(str(exc)) from None
        verbose = params.get("verbose") not in (None, False, 0, "")
        if isinstance(parsed, ById):
            return SearchPlan(who, keys, verbose, by_id=parsed.job_id)
        else:
            offset, limit, descending = page_params(params)
            where = None if isinstance(parsed, AllJobs) else parsed
            if where is not None and _criteria(where) > MAX_CRITERIA:
                raise api_error(f"Malformed parameter: query (more than {MAX_CRITERIA} terms and words)")
            search = JobSearch(
                where=where,
                categories=None if who.is_admin or not who.categories else who.categories,
                groups=None if who.is_admin or not who.groups else who.groups,
                sort_by=str(sort_by),
                descending=descending,
                offset=offset,
                limit=limit,
            )
            return SearchPlan(who, keys, verbose, search=search)

    def run(self, plan: SearchPlan) -> dict[str, Any]:
        """Answer a prepared search (store reads and JSON decoding: may run on a thread)."""
        if plan.search is not None:
            rows, total = self._store.search_jobs(plan.search)
        else:
            rows, total = self._by_id(plan.by_id, plan.who), 1
        return {"rows": [_shown(row, plan.keys, plan.verbose) for row in rows], "list": {"length": total}}

    def _by_id(self, job_id: str, who: Identity) -> list[dict[str, Any]]:
        """``#id:``: that one stored record, when the caller's scope covers it; else the same
        error as a missing record (scope never reveals which records exist)."""
        job = self._store.get_job(job_id[:128])
        if job is None or not is_searchable(job) or not _in_scope(who, job):
            raise db_error(f"Failed to fetch key: unbase/records/jobs/{job_id[:128]}: Not found")
        return [job]


def _in_scope(who: Identity, job: dict[str, Any]) -> bool:
    if who.is_admin:
        return True
    if who.categories and job.get("category") not in who.categories:
        return False
    groups = job.get("groups")
    return not who.groups or (isinstance(groups, list) and any(g in who.groups for g in groups))


def _criteria(node: Any) -> int:
    """How much SQL a parsed query makes: one per group and one per word (a phrase of N words is N
    nested conditions, so ``tags:a-a-a-…`` counts every word)."""
    items = getattr(node, "items", None)
    if items is None:
        words = getattr(node, "words", None)
        return max(1, len(words)) if isinstance(words, (list, tuple)) else 1
    return sum(_criteria(i) for i in items) + 1


def _shown(job: dict[str, Any], keys: list[str] | None, verbose: bool) -> dict[str, Any]:
    if keys is not None:
        return {k: job[k] for k in keys if k in job}
    if verbose:
        return job
    return {k: v for k, v in job.items() if k not in HEAVY_KEYS}
