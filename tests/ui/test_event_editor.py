"""The event editor (#/events/new, #/event/ID): an event with a schedule and a manual trigger made
through the form and its forecast in local time, human readings of schedules, API validation errors
at their field, locked plugin params read-only for a limited user, the revision diff, delete, and
light/dark/phone screenshots."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tests.api.helpers import create_event, uid
from tests.support.server import Api, Server
from tests.ui.conftest import ZONE, create_user, login, open_context, shot, watch


def go(page: Any, path: str) -> None:
    """Open a page once the shell has its session (a hash change before that shows the login form)."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Events").wait_for()
    page.goto(f"/#{path}")


def card(page: Any, number: int) -> Any:
    return page.locator(f'.trigger-card[data-index="{number - 1}"]')


def forecast_times(page: Any) -> list[tuple[int, str, str]]:
    """(epoch, datetime attribute, text) of each forecast row's time."""
    return [
        (int(row.get_attribute("data-at")), row.locator("time").first.get_attribute("datetime"), row.inner_text())
        for row in page.locator(".forecast-row").all()
    ]


def test_create_with_schedule_and_manual_triggers_and_forecast(page: Any, ui_api: Api) -> None:
    """The editor saves both triggers; the forecast lists the API's next runs in the browser's time."""
    title = uid("weekday")
    go(page, "/events/new")
    page.get_by_label("Title").fill(title)
    assert card(page, 1).get_attribute("data-type") == "manual"  # a new event starts with a manual trigger
    page.get_by_label("Kind of trigger to add").select_option("schedule")
    page.get_by_role("button", name="Add trigger").click()
    schedule = card(page, 2)
    schedule.get_by_label("Minutes").fill("30")
    schedule.get_by_label("Hours").fill("9")
    for day in ("Mon", "Tue", "Wed", "Thu", "Fri"):
        schedule.get_by_label(day, exact=True).check()
    schedule.get_by_label("Time zone").fill(ZONE)
    reading = schedule.locator(".trigger-reading")
    assert reading.inner_text() == f"Every weekday at 09:30 {ZONE}"
    # the live forecast of the unsaved triggers: ten weekday mornings at 09:30 local time
    page.wait_for_function(
        "() => { const rows = [...document.querySelectorAll('.forecast-row')];"
        " return rows.length === 10 && rows.every((r) => r.textContent.includes('09:30')); }"
    )
    page.get_by_role("button", name="Create event").click()
    page.wait_for_url(re.compile(r"#/event/\w+$"))
    event_id = page.url.rsplit("/", 1)[1]
    stored = ui_api.ok("get_event", {"id": event_id})["event"]
    assert stored["title"] == title
    kinds = {t["type"]: t for t in stored["triggers"]}
    assert kinds["manual"]["enabled"] is True
    assert {k: kinds["schedule"][k] for k in ("weekdays", "hours", "minutes", "timezone", "enabled")} == {
        "weekdays": [1, 2, 3, 4, 5],
        "hours": [9],
        "minutes": [30],
        "timezone": ZONE,
        "enabled": True,
    }
    # the saved event's forecast matches get_event_forecast, shown in the browser's zone
    page.locator(".forecast-row").nth(9).wait_for()
    shown = forecast_times(page)
    api_rows = ui_api.ok("get_event_forecast", {"id": event_id, "count": 10})["rows"]
    assert [epoch for epoch, _, _ in shown] == [row["at"] for row in api_rows]
    zone = ZoneInfo(ZONE)
    for epoch, iso, text in shown:
        local = datetime.fromtimestamp(epoch, zone)
        assert datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() == epoch
        assert local.strftime("%H:%M") == "09:30" and local.weekday() < 5
        assert "09:30" in text and local.strftime("%a") in text
    assert page.get_by_role("link", name="Run now").get_attribute("href") == f"#/event/{event_id}/run"
    shot(page, "event-editor")
    shot(page, "event-editor-full", full_page=True)


def test_human_readings_of_schedules(page: Any) -> None:
    """Schedules read as sentences (the same function the trigger cards use)."""
    go(page, "/events")
    cases = [
        (
            {"weekdays": [1, 2, 3, 4, 5], "hours": [9], "minutes": [30], "timezone": "Europe/Berlin"},
            "",
            "every weekday at 09:30 Europe/Berlin",
        ),
        ({"hours": [2], "minutes": [0]}, "UTC", "every day at 02:00 UTC"),
        ({"minutes": [15]}, "UTC", "every hour at 15 minutes past UTC"),
        ({}, "", "every minute"),
        ({"days": [-1], "hours": [23], "minutes": [55]}, "UTC", "on the last day of the month at 23:55 UTC"),
        ({"weekdays": [0, 6], "hours": [8, 20], "minutes": [0]}, "", "every Saturday and Sunday at 08:00 and 20:00"),
        (
            {"months": [1, 7], "days": [1], "hours": [6], "minutes": [5]},
            "",
            "on the 1st of the month in January or July at 06:05",
        ),
        ({"minutes": [0, 30], "weekdays": [1]}, "", "every hour at minutes 0 and 30, every Monday"),
    ]
    readings = page.evaluate(
        "async (cases) => { const m = await import('/ui/js/pages/event_describe.js');"
        " return cases.map(([t, tz]) => m.describeSchedule(t, tz)); }",
        [[trigger, tz] for trigger, tz, _ in cases],
    )
    assert readings == [expected for _, _, expected in cases]


def test_validation_errors_show_at_their_field(page: Any, ui_api: Api) -> None:
    """API errors appear next to the field they name (title, a plugin parameter, a trigger)."""
    go(page, "/events/new")
    page.get_by_label("Title").fill("Bad <title>")
    page.get_by_role("button", name="Create event").click()
    title_field = page.locator('.field[data-field="title"]')
    title_field.locator(".field-error").filter(has_text="title").wait_for()
    assert "invalid" in title_field.get_attribute("class")
    assert page.get_by_label("Title").get_attribute("aria-invalid") == "true"

    # a required plugin parameter left empty
    page.get_by_label("Title").fill(uid("valid"))
    page.get_by_role("combobox", name=re.compile("^Plugin")).select_option("testplug")
    page.get_by_label("Duration (seconds)").fill("")
    page.get_by_role("button", name="Create event").click()
    page.locator('.field[data-field="duration"] .field-error').filter(
        has_text="Parameter 'duration' is required"
    ).wait_for()
    assert title_field.locator(".field-error").inner_text() == ""

    # an API error about a trigger goes to that trigger's card
    page.get_by_label("Duration (seconds)").fill("5")
    page.get_by_label("Kind of trigger to add").select_option("nth")
    page.get_by_role("button", name="Add trigger").click()
    card(page, 2).get_by_role("spinbutton", name=re.compile("^Every")).fill("1")
    page.get_by_role("button", name="Create event").click()
    card(page, 2).locator(".trigger-error").filter(has_text="Every Nth value is invalid").wait_for()
    # a number list that does not parse is caught before saving, at its input
    page.get_by_label("Kind of trigger to add").select_option("schedule")
    page.get_by_role("button", name="Add trigger").click()
    card(page, 3).get_by_label("Hours").fill("25")
    card(page, 3).locator(".field-error").filter(has_text="out of range").wait_for()
    shot(page, "event-editor-errors")


def test_limited_user_cannot_edit_a_locked_param(browser: Any, ui_server: Server, ui_api: Api) -> None:
    """A locked plugin parameter is read-only for a non-admin, and saving keeps the stored value."""
    plugin = uid("plug")
    ui_api.ok(
        "create_plugin",
        {
            "id": plugin,
            "title": "Locked Plugin",
            "type": "event",
            "command": "[shell-plugin]",
            "params": [
                {
                    "id": "command_line",
                    "title": "Command line",
                    "type": "text",
                    "value": "echo default",
                    "locked": True,
                },
                {"id": "note", "title": "Note", "type": "text", "value": ""},
            ],
        },
    )
    event = create_event(
        ui_api, plugin=plugin, params={"command_line": "echo admin", "note": "first"}, title=uid("locked")
    )
    name = uid("editor")
    create_user(ui_server, name, "editor-password-1", privileges={"edit_events": True, "create_events": True})
    context = open_context(browser, ui_server)
    login(context, name, "editor-password-1")
    page = context.new_page()
    problems = watch(page)
    try:
        page.goto(f"/#/event/{event['id']}")
        locked = page.get_by_label(re.compile("^Command line"))
        locked.wait_for()
        assert locked.get_attribute("readonly") is not None and locked.input_value() == "echo admin"
        assert "only administrators" in page.locator('.field[data-field="command_line"] label').inner_text()
        note = page.get_by_label("Note", exact=True)
        assert note.get_attribute("readonly") is None
        note.fill("second")
        # even a value forced into the read-only field is not stored
        locked.evaluate("(el) => { el.removeAttribute('readonly'); el.value = 'rm -rf /'; }")
        page.get_by_role("button", name="Save changes").click()
        page.locator(".event-saved").wait_for()
        stored = ui_api.ok("get_event", {"id": event["id"]})["event"]["params"]
        assert stored == {"command_line": "echo admin", "note": "second"}
        assert page.get_by_role("button", name="Delete").count() == 0  # no delete_events privilege
        shot(page, "event-editor-locked")
        assert not problems.unexpected(), problems
    finally:
        context.close()


def test_revision_history_shows_a_diff(page: Any, ui_api: Api) -> None:
    """The History tab lists revisions and shows what changed between two of them."""
    event = create_event(ui_api, title=uid("before"))
    after = uid("after")
    ui_api.ok("update_event", {"id": event["id"], "title": after, "notes": "now with notes"})
    go(page, f"/event/{event['id']}")
    page.get_by_role("tab", name="History").click()
    diff = page.locator(".diff-output")
    diff.get_by_text("From revision 1 to revision 2").wait_for()
    title_change = diff.get_by_role("region", name="Changes to title")
    assert title_change.locator(".diff-del").inner_text().strip().endswith(f'"{event["title"]}"')
    assert title_change.locator(".diff-add").inner_text().strip().endswith(f'"{after}"')
    assert diff.get_by_role("region", name="Changes to notes").locator(".diff-add").count() == 1
    assert "Changed: notes, title" in diff.inner_text()
    shot(page, "event-history")


def test_delete_with_confirmation(page: Any, ui_api: Api) -> None:
    """Delete asks first; Cancel keeps the event, confirming removes it and returns to the list."""
    event = create_event(ui_api, title=uid("doomed"))
    go(page, f"/event/{event['id']}")
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    assert ui_api.ok("get_event", {"id": event["id"]})["event"]["id"] == event["id"]
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete event").click()
    page.wait_for_url(re.compile(r"#/events$"))
    _, body = ui_api.call("get_event", {"id": event["id"]})
    assert body["code"] != 0


def test_editor_dark_and_phone(browser: Any, ui_server: Server, ui_api: Api) -> None:
    """The editor is readable in dark mode and at phone width without horizontal page scrolling."""
    daily = {
        "type": "schedule",
        "enabled": True,
        "weekdays": [1, 2, 3, 4, 5],
        "hours": [9],
        "minutes": [30],
        "timezone": ZONE,
    }
    event = create_event(ui_api, title=uid("looks"), triggers=[daily, {"type": "manual", "enabled": True}])
    for name, viewport, dark in (
        ("event-editor-dark", None, True),
        ("event-editor-phone", {"width": 390, "height": 844}, False),
    ):
        context = open_context(browser, ui_server, viewport=viewport, dark=dark)
        login(context)
        page = context.new_page()
        problems = watch(page)
        try:
            page.goto(f"/#/event/{event['id']}")
            page.locator(".forecast-row").nth(9).wait_for()
            if viewport:
                assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
            page.locator("#ev-triggers").scroll_into_view_if_needed()
            shot(page, name)
            assert not problems.unexpected(), problems
        finally:
            context.close()
