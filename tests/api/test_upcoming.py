"""``get_upcoming_runs`` (a Cronwright extension): the scheduled runs of many events, in time order.

Every schedule here is limited to the year 2031, so nothing fires on the shared server while the
tests run; the window is given explicitly with ``from``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.api.helpers import create_event, make_key, uid
from tests.support.server import Api

START = datetime(2031, 3, 8, 12, 0, tzinfo=UTC)  # the US changes to summer time on 2031-03-09
FROM = int(START.timestamp())


def daily_at(zone: str, hour: int, minute: int = 0) -> dict[str, Any]:
    return {
        "type": "schedule",
        "enabled": True,
        "years": [2031],
        "hours": [hour],
        "minutes": [minute],
        "timezone": zone,
    }


def expected_daily(zone: str, hour: int, days: int) -> list[int]:
    """The instants of a daily ``hour``:00 in ``zone`` within ``days`` days after START."""
    tz = ZoneInfo(zone)
    local = START.astimezone(tz)
    out = []
    for offset in range(-1, days + 2):
        day = (local + timedelta(days=offset)).date()
        instant = int(datetime(day.year, day.month, day.day, hour, tzinfo=tz).timestamp())
        if FROM < instant <= FROM + days * 86400:
            out.append(instant)
    return out


def upcoming(api: Api, **params: Any) -> dict[str, Any]:
    return api.ok("get_upcoming_runs", {"from": FROM, **params})


def test_runs_of_several_zones_in_time_order(api: Api) -> None:
    """Runs of events scheduled in different zones are merged in time order, each with its event,
    epoch, an ISO 8601 time in the trigger's zone, and the trigger that causes it."""
    tokyo = create_event(api, title="Tokyo nine", triggers=[daily_at("Asia/Tokyo", 9)])
    new_york = create_event(
        api, title="New York nine", triggers=[{"type": "manual", "enabled": True}, daily_at("America/New_York", 9)]
    )
    body = upcoming(api, ids=[tokyo["id"], new_york["id"]], hours=72)
    rows = body["rows"]
    expected = sorted(
        [(t, tokyo["id"]) for t in expected_daily("Asia/Tokyo", 9, 3)]
        + [(t, new_york["id"]) for t in expected_daily("America/New_York", 9, 3)]
    )
    assert [(r["epoch"], r["event"]) for r in rows] == expected
    assert len(rows) == 6 and body["truncated"] is False
    for row in rows:
        zone = "Asia/Tokyo" if row["event"] == tokyo["id"] else "America/New_York"
        moment = datetime.fromisoformat(row["iso"])
        assert moment.timestamp() == row["epoch"] and moment.hour == 9 and row["timezone"] == zone
        assert row["suppressed"] is False and row["type"] == "schedule"
    assert {r["trigger"] for r in rows if r["event"] == new_york["id"]} == {1}
    assert {r["title"] for r in rows if r["event"] == tokyo["id"]} == {"Tokyo nine"}
    # the New York runs move one hour earlier in UTC once summer time starts (2031-03-09)
    ny = [r["epoch"] for r in rows if r["event"] == new_york["id"]]
    assert ny[1] - ny[0] == 23 * 3600


def test_unfiltered_list_is_ordered_and_includes_every_visible_event(api: Api) -> None:
    """Without filters every visible event takes part, and the rows are in time order."""
    first = create_event(api, triggers=[daily_at("UTC", 20)])
    second = create_event(api, triggers=[daily_at("Europe/Paris", 18)])
    rows = upcoming(api, hours=30, limit=1000)["rows"]
    epochs = [r["epoch"] for r in rows]
    assert epochs == sorted(epochs)
    mine = [(r["event"], r["epoch"]) for r in rows if r["event"] in (first["id"], second["id"])]
    assert (first["id"], FROM + 8 * 3600) in mine
    assert (second["id"], FROM + 5 * 3600) in mine  # 18:00 in Paris (UTC+1) on 2031-03-08


def test_suppressed_runs_carry_their_reason(api: Api) -> None:
    """A run held back by a blackout and the runs of a disabled event are listed as suppressed with
    the reason; ``suppressed=false`` leaves them out."""
    blackout = {"type": "blackout", "enabled": True, "start": FROM + 3600, "end": FROM + 3600 + 59}
    held = create_event(api, triggers=[daily_at("UTC", 13), blackout])
    disabled = create_event(api, enabled=False, triggers=[daily_at("UTC", 14)])
    ids = [held["id"], disabled["id"]]
    rows = upcoming(api, ids=ids, hours=24)["rows"]
    assert [(r["event"], r["epoch"], r["suppressed"], r.get("reason")) for r in rows] == [
        (held["id"], FROM + 3600, True, "blackout"),
        (disabled["id"], FROM + 7200, True, "disabled"),
    ]
    assert all(r["detail"] for r in rows)
    assert upcoming(api, ids=ids, hours=24, suppressed="false")["rows"] == []
    assert [r["epoch"] for r in upcoming(api, ids=ids, hours=48, suppressed=False)["rows"]] == [FROM + 86400 + 3600]


def test_limit_caps_rows_and_says_truncated(api: Api) -> None:
    """``limit`` keeps the earliest rows and ``truncated`` tells that more fall in the window."""
    hourly = {"type": "schedule", "enabled": True, "years": [2031], "minutes": [0], "timezone": "UTC"}
    event = create_event(api, triggers=[hourly])
    body = upcoming(api, ids=event["id"], limit=3, hours=24)
    assert [r["epoch"] for r in body["rows"]] == [FROM + 3600, FROM + 7200, FROM + 10800]
    assert body["truncated"] is True and body["list"]["length"] == 3
    assert upcoming(api, ids=event["id"], hours=3)["truncated"] is False


def test_category_limited_key_sees_only_its_category(api: Api) -> None:
    """A key limited to one category gets only that category's runs, even when it names other events."""
    category = api.ok("create_category", {"id": uid("cat"), "title": "Limited"})["category"]
    inside = create_event(api, category=category["id"], triggers=[daily_at("UTC", 15)])
    outside = create_event(api, triggers=[daily_at("UTC", 15)])
    limited, _ = make_key(api, {}, categories=[category["id"]])
    rows = limited.ok("get_upcoming_runs", {"from": FROM, "ids": [inside["id"], outside["id"]]})["rows"]
    assert [r["event"] for r in rows] == [inside["id"]]
    everything = limited.ok("get_upcoming_runs", {"from": FROM, "limit": 1000})["rows"]
    assert {r["category"] for r in everything} == {category["id"]}
    assert len(api.ok("get_upcoming_runs", {"from": FROM, "ids": [inside["id"], outside["id"]]})["rows"]) == 2


def test_query_string_form(api: Api) -> None:
    """GET with a query string works: CSV ids, ISO 8601 ``from``/``to`` (no offset: the server's zone)."""
    event = create_event(api, triggers=[daily_at("UTC", 16)])
    iso_from = START.isoformat()
    iso_to = (START + timedelta(hours=5)).isoformat()
    body = api.ok(
        "get_upcoming_runs", {"ids": f"{event['id']},nonexistent", "from": iso_from, "to": iso_to}, method="GET"
    )
    assert [r["epoch"] for r in body["rows"]] == [FROM + 4 * 3600]
    assert body["from"] == FROM and body["to"] == FROM + 5 * 3600


def test_bad_input_is_a_400(api: Api) -> None:
    """Malformed parameters and oversized windows answer 400 `api` naming the parameter, never 500."""
    cases = [
        ({"hours": 0}, "hours"),
        ({"hours": 745}, "hours"),
        ({"hours": "soon"}, "hours"),
        ({"to": FROM - 60}, "to"),
        ({"to": FROM + 32 * 86400}, "to"),
        ({"to": FROM + 3600, "hours": 1}, "to or hours"),
        ({"from": "tomorrow"}, "from"),
        ({"from": -5}, "from"),
        ({"from": 1e300}, "from"),
        ({"from": 253402300000}, "from"),
        ({"from": "9999-12-31T00:00:00"}, "from"),
        ({"from": True}, "from"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"ids": ["Bad Id"]}, "ids"),
        ({"ids": {"a": 1}}, "ids"),
        ({"category": 5}, "category"),
        ({"suppressed": "maybe"}, "suppressed"),
    ]
    for params, named in cases:
        status, code, description = api.error("get_upcoming_runs", {"from": FROM, **params})
        assert (status, code) == (400, "api"), params
        assert named in description, (params, description)


def test_needs_credentials_and_is_documented(api: Api) -> None:
    """Without credentials the call is refused; the OpenAPI document describes it."""
    status, _code, _ = api.with_key(None).error("get_upcoming_runs", {})
    assert status == 403
    spec = httpx.get(api.base_url + "/api/openapi.json").json()
    paths = [p for p in spec["paths"] if "get_upcoming_runs" in p]
    assert paths
    assert "UpcomingResult" in str(spec["components"]["schemas"].keys())
