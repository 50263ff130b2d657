"""The web UI's events extensions: ``get_event_summaries`` (next run and last result of every event
in one call) and ``preview_event_forecast`` (the forecast of triggers that are not saved yet).

Schedules are limited to 2031 or lie in a far future, so nothing fires on the shared server."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.api.helpers import create_event, make_key, run_wait, uid
from tests.support.server import Api

IN_2031 = {"type": "schedule", "enabled": True, "years": [2031], "hours": [9], "minutes": [30], "timezone": "UTC"}
FIRST_2031 = int(datetime(2031, 1, 1, 9, 30, tzinfo=UTC).timestamp())


def test_summaries_give_next_run_and_last_result(api: Api) -> None:
    """Each row names the next launch within a year and the last job's outcome from the event state."""
    scheduled = create_event(api, triggers=[{"type": "manual", "enabled": True}, dict(IN_2031)])
    manual = create_event(api)
    job = run_wait(api, manual["id"])
    body = api.ok("get_event_summaries", {"ids": [scheduled["id"], manual["id"]]})
    rows = {row["id"]: row for row in body["rows"]}
    assert set(rows) == {scheduled["id"], manual["id"]} and body["list"]["length"] == 2
    assert isinstance(body["timezone"], str) and body["elapsed_ms"] >= 0
    now = datetime.now(UTC).timestamp()
    if FIRST_2031 - now < 366 * 86400:  # within the horizon only from 2030 on
        assert rows[scheduled["id"]]["next"] == FIRST_2031
    else:
        assert rows[scheduled["id"]].get("next") is None
    assert rows[manual["id"]].get("next") is None  # a manual trigger schedules nothing
    assert rows[manual["id"]]["last_job"] == job["id"] and rows[manual["id"]]["last_code"] == 0
    assert rows[manual["id"]]["last_completed"] >= int(job["started"])
    assert "last_job" not in rows[scheduled["id"]]


def test_summaries_of_a_daily_event_and_disabled_category(api: Api) -> None:
    """A daily schedule has a next run within a day; a disabled category is named in `blocked`."""
    category = uid("cat")
    api.ok("create_category", {"id": category, "title": "Paused category", "enabled": False})
    daily = {"type": "schedule", "enabled": True, "hours": [3], "minutes": [7], "timezone": "UTC"}
    event = create_event(api, category=category, triggers=[daily])
    row = api.ok("get_event_summaries", {"ids": [event["id"]]})["rows"][0]
    now = datetime.now(UTC).timestamp()
    assert 0 < row["next"] - now <= 86400 + 60
    assert datetime.fromtimestamp(row["next"], UTC).strftime("%H:%M") == "03:07"
    assert row["blocked"] == "category"


def test_summaries_respect_scope_and_check_ids(api: Api) -> None:
    """A key limited to one category sees only that category's events; malformed ids are refused."""
    category = uid("cat")
    api.ok("create_category", {"id": category, "title": "Scoped", "enabled": True})
    inside = create_event(api, category=category)
    outside = create_event(api)
    limited, _ = make_key(api, {}, categories=[category])
    rows = limited.ok("get_event_summaries", {"ids": [inside["id"], outside["id"]]})["rows"]
    assert [row["id"] for row in rows] == [inside["id"]]
    _, code, description = api.error("get_event_summaries", {"ids": "not a list"})
    assert code == "api" and "ids" in description


def test_preview_forecasts_unsaved_triggers_with_suppressions(api: Api) -> None:
    """Unsaved triggers are forecast like a saved event's, blackouts listed as suppressed."""
    after = int(datetime(2031, 3, 7, 0, 0, tzinfo=UTC).timestamp())
    blackout_start = int(datetime(2031, 3, 8, 0, 0, tzinfo=UTC).timestamp())
    triggers = [
        {"type": "schedule", "enabled": True, "hours": [2], "minutes": [30], "timezone": "America/New_York"},
        {"type": "blackout", "enabled": True, "start": blackout_start, "end": blackout_start + 86400 - 60},
        {"type": "manual", "enabled": True},
    ]
    body = api.ok("preview_event_forecast", {"triggers": triggers, "count": 4, "after": after})
    rows = body["rows"]
    assert body["active"] is True and len([r for r in rows if not r["suppressed"]]) == 4  # suppressed come extra
    assert [r["iso"][:16] for r in rows[:4]] == [
        "2031-03-07T02:30",
        "2031-03-08T02:30",  # in the blackout
        "2031-03-10T02:30",  # 2031-03-09 02:30 does not exist in New York
        "2031-03-11T02:30",
    ]
    assert [r["suppressed"] for r in rows[:4]] == [False, True, False, False]
    assert rows[1]["reason"] == "blackout" and rows[0]["timezone"] == "America/New_York"
    # the same triggers saved give the same forecast
    event = create_event(api, triggers=triggers)
    saved = api.ok("get_event_forecast", {"id": event["id"], "count": 4, "after": after})
    assert [(r["at"], r["suppressed"]) for r in saved["rows"]] == [(r["at"], r["suppressed"]) for r in rows]


def test_preview_validates_like_create_event(api: Api) -> None:
    """A trigger create_event would refuse is refused with the same message; manual-only is inactive."""
    _, code, description = api.error("preview_event_forecast", {"triggers": [{"type": "schedule", "hours": [25]}]})
    assert code == "api" and description == "Malformed trigger parameter: hours (out of range: 25)"
    _, code, description = api.error("preview_event_forecast", {"triggers": [{"type": "nope"}]})
    assert description == "Malformed trigger entry #1: Unknown type"
    body = api.ok("preview_event_forecast", {"triggers": [{"type": "manual", "enabled": True}]})
    assert body["active"] is False and body["rows"] == []
    _, code, _ = api.error("preview_event_forecast", {"triggers": "x"})
    assert code == "api"
