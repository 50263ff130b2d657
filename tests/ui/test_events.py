"""The events list (#/events): search and filters in memory, next run in local time, last result,
enable/disable in place (a failure reverts with a notice), the empty state, light/dark/phone."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tests.api.helpers import create_event, run_wait, uid
from tests.support.server import Api, Server
from tests.ui.conftest import ZONE, create_user, login, open_context, shot, watch

NEVER_FIRES = {"type": "schedule", "enabled": True, "years": [2031], "hours": [9], "minutes": [30], "timezone": ZONE}


def go(page: Any, path: str) -> None:
    """Open a page once the shell has its session (a hash change before that shows the login form)."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Events").wait_for()
    page.goto(f"/#{path}")


def rows(page: Any) -> Any:
    return page.locator(".events-table tbody tr")


def search(page: Any, text: str) -> None:
    page.get_by_label("Search").fill(text)


def wait_rows(page: Any, count: int) -> None:
    page.wait_for_function("n => document.querySelectorAll('.events-table tbody tr').length === n", arg=count)


def test_search_and_filters(page: Any, ui_api: Api) -> None:
    """Title search, category, tag, target, plugin and enabled filters narrow the list in memory."""
    prefix = uid("flt")
    category = uid("cat")
    ui_api.ok("create_category", {"id": category, "title": f"Cat {prefix}", "enabled": True})
    daily = {"type": "schedule", "enabled": True, "hours": [4], "minutes": [11], "timezone": ZONE}
    first = create_event(
        ui_api, title=f"{prefix} alpha", tags=["important"], triggers=[daily, {"type": "manual", "enabled": True}]
    )
    create_event(
        ui_api, title=f"{prefix} beta", category=category, targets=[ui_api.ok("get_active_servers")["rows"][0]["id"]]
    )
    create_event(
        ui_api,
        title=f"{prefix} gamma",
        enabled=False,
        plugin="testplug",
        params={"duration": "1"},
        triggers=[NEVER_FIRES],
    )
    run_wait(ui_api, first["id"])
    go(page, "/events")
    search(page, prefix)
    wait_rows(page, 3)
    assert page.locator(".events-count").inner_text().startswith("3 ")  # "3 events" or "3 of N events match"
    search(page, f"{prefix} alp")
    wait_rows(page, 1)
    row = rows(page).first
    assert f"{prefix} alpha" in row.inner_text()
    # next run: the daily 04:11 in the browser's zone (Europe/Berlin), UTC on hover
    next_time = row.locator(".events-next-cell time").first
    next_time.wait_for()
    epoch = datetime.fromisoformat(next_time.get_attribute("datetime").replace("Z", "+00:00"))
    assert epoch.astimezone(ZoneInfo(ZONE)).strftime("%H:%M") == "04:11" and "04:11" in next_time.inner_text()
    assert "UTC" in next_time.get_attribute("title")
    # last result: the run above, linked to its job
    last = row.get_by_role("link", name=re.compile("success"))
    last.wait_for()
    assert last.get_attribute("href", timeout=1000).startswith("#/job/")

    search(page, prefix)
    page.get_by_label("Category").select_option(category)
    wait_rows(page, 1)
    assert f"{prefix} beta" in rows(page).first.inner_text()
    page.get_by_role("button", name="Clear filters").click()
    search(page, prefix)
    page.get_by_label("Tag").select_option("important")
    wait_rows(page, 1)
    assert f"{prefix} alpha" in rows(page).first.inner_text()
    page.get_by_label("Tag").select_option("")
    page.get_by_label("Plugin").select_option("testplug")
    page.get_by_label("State").select_option("0")
    wait_rows(page, 1)
    assert f"{prefix} gamma" in rows(page).first.inner_text()
    assert "Disabled" in rows(page).first.locator(".events-next-cell").inner_text()
    page.get_by_label("Plugin").select_option("")
    page.get_by_label("State").select_option("")
    page.get_by_label("Target").select_option("main")
    wait_rows(page, 2)
    # nothing matches: an empty state that says what to do
    search(page, f"{prefix} nothing like this")
    page.get_by_text("No events match these filters").wait_for()
    page.get_by_role("main").get_by_role("button", name="Clear filters").last.click()
    search(page, prefix)
    wait_rows(page, 3)
    shot(page, "events-list")


def test_enable_disable_in_place(page: Any, ui_api: Api) -> None:
    """The toggle changes the stored event; a refused change is reverted with a notice."""
    title = uid("toggle")
    event = create_event(ui_api, title=title)
    go(page, "/events")
    search(page, title)
    wait_rows(page, 1)
    box = page.get_by_label(f"Enabled: {title}")
    box.wait_for()
    # the list's last change: next runs and last results filled in
    page.wait_for_function("![...document.querySelectorAll('.events-next-cell')].some(c => c.textContent === '…')")
    assert box.is_checked()
    box.uncheck()
    page.locator(".toast.ok").filter(has_text="disabled").wait_for()
    assert ui_api.ok("get_event", {"id": event["id"]})["event"]["enabled"] is False
    assert "Disabled" in rows(page).first.locator(".events-next-cell").inner_text()
    box.check()
    page.locator(".toast.ok").filter(has_text="enabled").wait_for()
    assert ui_api.ok("get_event", {"id": event["id"]})["event"]["enabled"] is True

    # the server refuses: the box flips back and the reason is shown
    page.route(
        "**/api/app/update_event",
        lambda route: route.fulfill(
            status=200,
            content_type="application/json",
            body='{"code":"access","description":"You do not have permission to edit this event."}',
        ),
    )
    box.uncheck()
    page.locator(".toast.err").filter(has_text="You do not have permission").wait_for()
    assert box.is_checked()
    assert ui_api.ok("get_event", {"id": event["id"]})["event"]["enabled"] is True


def test_empty_state_and_read_only_for_a_limited_user(browser: Any, ui_server: Server, ui_api: Api) -> None:
    """A user who sees no events gets an empty state; without edit privileges the toggles are off."""
    category = uid("cat")
    ui_api.ok("create_category", {"id": category, "title": "Empty", "enabled": True})
    name = uid("viewer")
    create_user(ui_server, name, "viewer-password-1", privileges={}, categories=[category])
    context = open_context(browser, ui_server)
    login(context, name, "viewer-password-1")
    page = context.new_page()
    problems = watch(page)
    try:
        page.goto("/#/events")
        page.get_by_text("No events yet").wait_for()
        assert page.get_by_role("link", name="New event").count() == 0
        create_event(ui_api, title=f"{name} visible", category=category)
        page.reload()
        page.get_by_label(f"Enabled: {name} visible").wait_for()
        assert page.get_by_label(f"Enabled: {name} visible").is_disabled()
        assert not problems.unexpected(), problems
    finally:
        context.close()


def test_dark_and_phone(browser: Any, ui_server: Server, ui_api: Api) -> None:
    """The list is readable in dark mode and at phone width without horizontal page scrolling."""
    prefix = uid("look")
    for i, title in enumerate(["Nightly backup", "Weekly report", "Sync mirrors"]):
        create_event(ui_api, title=f"{title} {prefix}", tags=["important"] if i == 0 else [], triggers=[NEVER_FIRES])
    for name, viewport, dark in (
        ("events-list-dark", None, True),
        ("events-list-phone", {"width": 390, "height": 844}, False),
    ):
        context = open_context(browser, ui_server, viewport=viewport, dark=dark)
        login(context)
        page = context.new_page()
        problems = watch(page)
        try:
            page.goto("/#/events")
            search(page, prefix)
            wait_rows(page, 3)
            if viewport:
                assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
            shot(page, name)
            assert not problems.unexpected(), problems
        finally:
            context.close()


def test_a_long_unbroken_title_does_not_widen_the_page(page: Any, ui_api: Api) -> None:
    """One 300-character word as a title: the list keeps every column on screen, and the
    event's page does not scroll sideways."""
    title = uid("long") + "W" * 300
    event = create_event(ui_api, title=title)
    go(page, "/events")
    search(page, title[:20])
    wait_rows(page, 1)
    wrap = page.locator(".events-table").first
    assert wrap.evaluate("el => el.scrollWidth") <= 1280
    page.goto(f"/#/event/{event['id']}")
    page.locator("h1").first.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
