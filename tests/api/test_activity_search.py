"""`search_activity` query syntax over HTTP: alternatives, keywords and date bounds with paging."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.helpers import uid
from tests.conftest import StartServer
from tests.support.server import Api, Server

BASE = 1924992000  # 2031-01-01 00:00 UTC
HOUR = 3600


@pytest.fixture(scope="module")
def clock_server(server_factory: StartServer) -> Server:
    return server_factory("sqlite", env={"CRONWRIGHT_TEST_API": "1", "CRONWRIGHT_CLOCK_START": str(BASE)})


@pytest.fixture
def capi(clock_server: Server) -> Iterator[Api]:
    yield clock_server.client()


def tags_at(api: Api, hours: list[int]) -> list[str]:
    """Create one tag at each `BASE + hour` (server clock); returns their ids (= activity keywords)."""
    ids = []
    for hour in hours:
        api.ok("test_set_clock", {"now": BASE + hour * HOUR})
        ids.append(api.ok("create_tag", {"id": uid("tag"), "title": f"At {hour}"})["tag"]["id"])
    return ids


def search(api: Api, query: str, **params: object) -> tuple[list[str], int]:
    """(keywords[0] of each row, list.length) of one search."""
    body = api.ok("search_activity", {"query": query, "limit": 50, **params})
    return [row["keywords"][0] for row in body["rows"]], body["list"]["length"]


def test_alternatives_and_keywords(api: Api) -> None:
    """`action:a|b` and `keywords:k1|k2` match any alternative; terms of different fields must all hold."""
    first, second = uid("tag"), uid("tag")
    for tag_id in (first, second):
        api.ok("create_tag", {"id": tag_id, "title": "Searchable"})
    api.ok("update_tag", {"id": first, "title": "Changed"})
    assert search(api, f"keywords:{first}|{second}")[1] == 3
    assert search(api, f"action:tag_update keywords:{first}|{second}") == ([first], 1)
    assert search(api, f"action:tag_create|tag_update keywords:{second}") == ([second], 1)


@pytest.mark.parametrize("query", ["color:red", "plain words", "date:tomorrow", "date:200..100"])
def test_bad_queries(api: Api, query: str) -> None:
    """Unknown fields, loose words and malformed dates are `api` 400 errors."""
    status, code, desc = api.error("search_activity", {"query": query})
    assert (status, code) == (400, "api") and "Invalid search query" in desc


def test_date_bounds_filter_before_paging(capi: Api) -> None:
    """`date:` bounds select by epoch inside the store, so `list.length` and pages count only matches."""
    ids = tags_at(capi, [1, 2, 3, 4])
    keywords = "keywords:" + "|".join(ids)
    at = [BASE + h * HOUR for h in (1, 2, 3, 4)]
    assert search(capi, f"{keywords} date:>={at[1]}") == ([ids[3], ids[2], ids[1]], 3)
    assert search(capi, f"{keywords} date:>{at[3]}") == ([], 0)
    assert search(capi, f"{keywords} date:<{at[1]}") == ([ids[0]], 1)
    assert search(capi, f"{keywords} date:<={at[1] + 59}") == ([ids[1], ids[0]], 2)
    assert search(capi, f"{keywords} date:{at[1]}..{at[2] + 59}") == ([ids[2], ids[1]], 2)
    assert search(capi, f"{keywords} date:2031-01-01") == ([ids[3], ids[2], ids[1], ids[0]], 4)
    page, total = search(capi, f"{keywords} date:>={at[1]}", limit=1, offset=1)
    assert (page, total) == ([ids[2]], 3)
