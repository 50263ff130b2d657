"""`search_jobs` over HTTP: every example of search-jobs.md §9, real jobs, re-indexing, scope, fuzzing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cronwright.store.sql.store import SqlStore
from tests.api.helpers import create_event, make_key, run_wait, script_event, uid, wait_job
from tests.conftest import BACKENDS, StartServer
from tests.support.server import Api, Server

# ---- the data set of §9: seven stored jobs, conductor clock at 2026-12-03 15:15:50 UTC

HOUR_START = 1796310000  # 2026-12-03 15:00:00 UTC, hour bucket 498975
NOW = 1796310950
IDS = dict(
    A="jmx7ornvs4q5vyeb",
    B="jmx7oscc15kqawfd",
    C="jmx7p3tl0i3zhb7v",
    D="jmx7p3v55itr2cth",
    E="jmx7p3wp5jtc6w59",
    F="jmx7p3y97kvbhsew",
    G="jmx7p43iglmozmkr",
)
ROWS = [  # name, code, tags, elapsed, completed
    ("A", 0, ["_success", "_last"], 0.334, HOUR_START + 240),
    ("B", 0, ["_success", "_last"], 0.287, HOUR_START + 300),
    ("C", 0, ["important", "_success", "_last"], 0.268, HOUR_START + 420),
    ("D", 3, ["_error", "_last"], 0.251, HOUR_START + 480),
    ("E", "warning", ["flag", "important", "_error", "_last"], 0.247, HOUR_START + 600),
    ("F", 0, ["_success", "_last", "_files"], 0.317, HOUR_START + 720),
    ("G", "abort", ["_error", "_last"], 3.464, 1796310875),
]


def _record(name: str, code: Any, tags: list[str], elapsed: float, completed: float) -> dict[str, Any]:
    return {
        "id": IDS[name],
        "event": "bench_shell_hi",
        "category": "general",
        "plugin": "shellplug",
        "server": "smx7oqyoc33f85pk",
        "groups": ["main"],
        "targets": ["main"],
        "source": "key",
        "state": "complete",
        "complete": True,
        "final": True,
        "code": code,
        "description": "" if code == 0 else "failed",
        "tags": tags,
        "started": completed - elapsed,
        "completed": completed,
        "elapsed": elapsed,
        "files": [{"id": "f1", "path": "jobs/x/f.txt"}] if "_files" in tags else [],
        "input": {"data": {"x": 1}},
    }


@pytest.fixture(scope="module", params=BACKENDS)
def examples(request: pytest.FixtureRequest, server_factory: StartServer) -> Iterator[Api]:
    """A server of its own (UTC, clock in the examples' hour) holding exactly the seven records."""
    server = server_factory(request.param, env={"CRONWRIGHT_CLOCK_START": str(NOW), "CRONWRIGHT_TZ": "UTC"})
    store = SqlStore.open(server.database_url)
    try:
        with store.write() as w:
            for row in ROWS:
                w.put_job(_record(*row))
    finally:
        store.close()
    yield server.client()


def _ids(rows: list[dict[str, Any]]) -> str:
    names = {v: k for k, v in IDS.items()}
    return " ".join(names.get(r.get("id"), "?") for r in rows)


ALL = "G F E D C B A"
#: (example number, query-string params, expected rows, expected list.length)
EXAMPLES: list[tuple[str, dict[str, str], str, int]] = [
    ("1", {}, "G", 7),
    ("2", {"query": "*"}, ALL, 7),
    ("3", {"query": "code:0"}, "F C B A", 4),
    ("4", {"query": "abort"}, "G", 1),
    ("5", {"query": "abort|3"}, "G D", 2),
    ("6", {"query": "code:-0"}, "", 0),
    ("7", {"query": "tags:_error code:-abort"}, "E D", 2),
    ("8", {"query": "tags:important -code:warning"}, "E C", 2),
    ("9", {"query": "tags:important code:-warning"}, "C", 1),
    ("10", {"query": "tags:flag important"}, "E", 1),
    ("11", {"query": "tags:flag|important"}, "E C", 2),
    ("12a", {"query": 'tags:"_success _last"'}, "F C B A", 4),
    ("12b", {"query": 'tags:"_last _success"'}, "", 0),
    ("13", {"query": "event:bench_shell_hi code:warning|3"}, "E D", 2),
    ("14", {"query": "event:bench_shell_hi nope"}, "", 0),
    ("15", {"query": "code:>0"}, "F C B A", 4),
    ("16", {"query": "date:>=1796310875"}, ALL, 7),
    ("17a", {"query": "date:<1796310000"}, "", 0),
    ("17b", {"query": "date:<=1796310000"}, ALL, 7),
    ("18a", {"query": "date:2026-12-03"}, "", 0),
    ("18b", {"query": "date:>=2026-12-03"}, ALL, 7),
    ("19a", {"query": "date:today"}, "", 0),
    ("19b", {"query": "date:>=today"}, ALL, 7),
    ("19c", {"query": "date:<now"}, "", 0),
    ("19d", {"query": "date:<=now"}, ALL, 7),
    ("20a", {"query": "date:2026-12-01..2026-12-03"}, "", 0),
    ("20b", {"query": "date:2026-12-01..now"}, ALL, 7),
    ("21a", {"query": "foo:bar"}, "", 0),
    ("21b", {"query": "foo:bar code:abort"}, "G", 1),
    ("21c", {"query": "CODE:abort"}, "", 0),
    ("22", {"query": '(code = "abort" | code = "3")'}, "G D", 2),
    ("24", {"query": "#id:jmx7p3v55itr2cth"}, "D", 1),
    ("25", {"query": "*", "sort_by": "elapsed", "sort_dir": "-1"}, "G A F B C D E", 7),
    ("26", {"query": "*", "limit": "3", "offset": "2", "sort_by": "completed", "sort_dir": "-1"}, "E D C", 7),
    ("27", {"query": "*", "limit": "3", "sort_dir": "1"}, "A B C", 7),
    ("28a", {"query": "*", "limit": "0"}, ALL, 7),
    # §1 parsing quirks
    ("offset<0", {"query": "*", "offset": "-2", "limit": "3"}, "B A", 7),
    ("limit<0", {"query": "*", "limit": "-1"}, "", 7),
    ("limit=abc", {"query": "*", "limit": "abc"}, ALL, 7),
    ("sort_dir=0", {"query": "*", "limit": "2", "sort_dir": "0"}, "A B", 7),
    ("blank", {"query": "   ", "limit": "50"}, "", 0),
    ("empty", {"query": "", "limit": "50"}, ALL, 7),
    ("pxql-and", {"query": '(tags = "_error" & code !~ "abort")'}, "E D", 2),
    ("pxql-date", {"query": '(date >= 1796310000 && code = "0")'}, "F C B A", 4),
    ("pxql-nested", {"query": '((code = "3" | code = "abort") & tags =~ "_last")'}, "G D", 2),
    ("phrase-pxql", {"query": '(tags = "_success _last")'}, "F C B A", 4),
    ("negative-date", {"query": "tags:_last date:-now"}, "", 0),
]
_EXAMPLE_IDS = [e[0] for e in EXAMPLES]


@pytest.mark.parametrize(("number", "params", "rows", "length"), EXAMPLES, ids=_EXAMPLE_IDS)
def test_examples(examples: Api, number: str, params: dict[str, str], rows: str, length: int) -> None:
    """Each example of search-jobs.md §9 (query-string parameters) answers xyOps' rows and total."""
    if (
        number not in ("1", "26", "27", "28a", "offset<0", "limit<0", "limit=abc", "sort_dir=0")
        and "limit" not in params
    ):
        params = {**params, "limit": "50"}
    body = examples.ok("search_jobs", params, method="GET")
    assert (_ids(body["rows"]), body["list"]["length"]) == (rows, length)


def test_json_limit_zero_is_one_row(examples: Api) -> None:
    """Example 28: a JSON body `limit: 0` means 1 row (a query string `0` means all)."""
    body = examples.ok("search_jobs", {"query": "*", "limit": 0})
    assert (_ids(body["rows"]), body["list"]["length"]) == ("G", 7)


def test_query_string_wins_over_body(examples: Api) -> None:
    """Parameters are merge(body, query) with the query winning (api-conventions §2)."""
    body = examples.ok("search_jobs", {"query": "code:0", "limit": 50}, query={"query": "abort"})
    assert _ids(body["rows"]) == "G"


def test_select_and_verbose(examples: Api) -> None:
    """Example 30 (`select` keeps listed keys that exist); heavy fields only with `verbose`."""
    body = examples.ok("search_jobs", {"query": "code:3", "select": "id,code,nonexistent"}, method="GET")
    assert body["rows"] == [{"id": IDS["D"], "code": 3}]
    body = examples.ok("search_jobs", {"query": "code:0", "select": ["id", "files"]})
    assert body["rows"] == [{"id": IDS["F"], "files": [{"id": "f1", "path": "jobs/x/f.txt"}]}]
    plain = examples.ok("search_jobs", {"query": "code:3"})["rows"][0]
    assert "input" not in plain and "files" not in plain and plain["tags"] == ["_error", "_last"]
    for verbose in ("0", "false", "1"):  # query strings are not coerced: any non-empty value is on
        row = examples.ok("search_jobs", {"query": "code:3", "verbose": verbose}, method="GET")["rows"][0]
        assert row["input"] == {"data": {"x": 1}}
    assert "input" not in examples.ok("search_jobs", {"query": "code:3", "verbose": False})["rows"][0]


ERRORS = [
    ("23", {"query": '(foo = "bar")'}, "db", "Failed DB search: Error: Index not found: foo"),
    ("29", {"query": "*", "sort_by": "code"}, "db", "Failed DB search: Error: Cannot find sorter: code"),
    ("31", {"query": "*", "select": 5}, "api", "Select parameter must be an array."),
    (
        "#id-missing",
        {"query": "#id:jnope"},
        "db",
        "Failed DB search: Error: Failed to fetch key: unbase/records/jobs/jnope: Not found",
    ),
    (
        "ambiguous",
        {"query": '(code = "3" & code = "0" | code = "abort")'},
        "db",
        "Failed DB search: Error: Ambiguous logic operator: | (use parenthesis to group)",
    ),
    ("query-type", {"query": 5}, "api", "Malformed parameter: query"),
]


@pytest.mark.parametrize(("name", "params", "code", "description"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors(examples: Api, name: str, params: dict[str, Any], code: str, description: str) -> None:
    """Client mistakes answer HTTP 400 with xyOps' code and description (§8)."""
    assert examples.error("search_jobs", params) == (400, code, description)


def test_pxql_syntax_error(examples: Api) -> None:
    """A PxQL parse failure is `db` "… Syntax error at line 1 col N: …" (400)."""
    status, code, description = examples.error("search_jobs", {"query": "(code abort)"})
    assert (status, code) == (400, "db")
    assert description.startswith("Failed DB search: Error: Syntax error at line 1 col 7:")


def test_credentials_required(examples: Api) -> None:
    """Without credentials the search is refused (403), like every identity-bound call."""
    status, _code, _ = examples.with_key(None).error("search_jobs", {"query": "*"})
    assert status == 403


def test_in_openapi(examples: Api) -> None:
    """The endpoint and its response model are in the OpenAPI document."""
    doc = httpx.get(examples.base_url + "/api/openapi.json").json()
    paths = [p for p in doc["paths"] if "search_jobs" in p]
    assert paths, sorted(doc["paths"])[:5]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(max_size=80) | st.from_regex(r"\(?[a-z]{0,6}[:=!~<>|&\"()#. -]{0,4}[a-z0-9.\"-]{0,8}\)?"))
def test_any_query_is_200_or_400(examples: Api, query: str) -> None:
    """Whatever the query text, the answer is a result (200) or a clear client error (400)."""
    status, body = examples.call("search_jobs", {"query": query, "limit": 3})
    assert status in (200, 400), (query, status, body)
    if status == 400:
        assert body["code"] in ("db", "api") and body["description"]
    else:
        assert body["list"]["length"] >= len(body["rows"])


# ---- real jobs on the shared server


def test_real_jobs_are_found_and_reindexed(api: Api) -> None:
    """Jobs that really ran are found by event, code and tags; manage_job_tags and update_job
    re-index the record; delete_job removes it from the results."""
    event = script_event(api, 'echo ok; exit "$fail"', params={"fail": "0"})
    good = run_wait(api, event["id"])
    bad = run_wait(api, event["id"], params={"fail": "7"})
    assert (good["code"], bad["code"]) == (0, 7)
    body = api.ok("search_jobs", {"query": f"event:{event['id']}", "limit": 10})
    assert [r["id"] for r in body["rows"]] == [bad["id"], good["id"]] and body["list"]["length"] == 2
    failed = api.ok("search_jobs", {"query": f"event:{event['id']} tags:_error", "limit": 10})["rows"]
    assert [r["id"] for r in failed] == [bad["id"]]
    assert api.ok("search_jobs", {"query": f"event:{event['id']} code:7"})["list"]["length"] == 1
    tag = uid("tag")
    api.ok("manage_job_tags", {"id": good["id"], "tags": [tag]})
    assert [r["id"] for r in api.ok("search_jobs", {"query": f"tags:{tag}"})["rows"]] == [good["id"]]
    api.ok("update_job", {"id": bad["id"], "code": "bad_thing"})
    assert [r["id"] for r in api.ok("search_jobs", {"query": f"event:{event['id']} code:bad_thing"})["rows"]] == [
        bad["id"]
    ]
    api.ok("delete_job", {"id": bad["id"]})
    body = api.ok("search_jobs", {"query": f"event:{event['id']}", "limit": 10})
    assert [r["id"] for r in body["rows"]] == [good["id"]] and body["list"]["length"] == 1


def test_scope_applies_to_results(api: Api) -> None:
    """A category-limited key sees only its categories' jobs (`list.length` too), `#id:` of an
    out-of-scope job looks missing, and a negative-only query matches nothing."""
    cat = uid("cat")
    api.ok("create_category", {"id": cat, "title": cat})
    mine = create_event(api, category=cat)
    other = create_event(api)
    mine_job, other_job = run_wait(api, mine["id"]), run_wait(api, other["id"])
    limited, _ = make_key(api, {}, categories=[cat])
    query = f"event:{mine['id']}|{other['id']}"
    body = limited.ok("search_jobs", {"query": query, "limit": 10})
    assert [r["id"] for r in body["rows"]] == [mine_job["id"]] and body["list"]["length"] == 1
    assert api.ok("search_jobs", {"query": query, "limit": 10})["list"]["length"] == 2
    assert limited.ok("search_jobs", {"query": f"#id:{mine_job['id']}"})["list"]["length"] == 1
    assert limited.error("search_jobs", {"query": f"#id:{other_job['id']}"})[1] == "db"
    assert limited.ok("search_jobs", {"query": "code:-0"})["list"]["length"] == 0
    grouped, _ = make_key(api, {}, groups=[uid("grp")])
    assert grouped.ok("search_jobs", {"query": query, "limit": 10})["list"]["length"] == 0


def test_active_jobs_are_not_searchable(api: Api, server: Server) -> None:
    """A running job is not in the results; it appears once it has completed."""
    event = script_event(api, "sleep 0.6")
    job_id = api.ok("run_event", {"id": event["id"]})["id"]
    assert api.ok("search_jobs", {"query": f"event:{event['id']}"})["list"]["length"] == 0
    wait_job(api, job_id)
    assert api.ok("search_jobs", {"query": f"event:{event['id']}"})["rows"][0]["id"] == job_id


def test_long_phrases_are_refused_not_sent_to_the_database(api: Api) -> None:
    """A phrase of hundreds of words (`tags:a-a-a-…`, within the query length limit) is a clear 400
    `api` for any caller: each word is a nested condition, which SQLite refused as a 503 outage."""
    limited, _ = make_key(api, {}, categories=["general"])
    for query in ("tags:" + "-".join(["a"] * 1000), 'tags:"' + " ".join(["a"] * 1000) + '"'):
        for caller in (api, limited):
            status, code, text = caller.error("search_jobs", {"query": query})
            assert (status, code) == (400, "api") and "terms and words" in text
    assert api.ok("search_jobs", {"query": "tags:" + "-".join(["a"] * 20)})["code"] == 0
