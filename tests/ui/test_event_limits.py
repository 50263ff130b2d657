"""The structured limits and actions editors of the event editor (event_limits.js): entries made,
edited, moved and removed through cards, validation errors at their card and field, unknown keys kept
through a save, the JSON view, and light/dark/phone screenshots."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.api.helpers import create_event, uid
from tests.support.server import Api, Server
from tests.ui.conftest import login, open_context, shot, watch


def go(page: Any, path: str) -> None:
    """Open a page once the shell has its session."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Events").wait_for()
    page.goto(f"/#{path}")


def limit(page: Any, number: int) -> Any:
    return page.locator(f'.entry-editor[data-field="limits"] .entry-card[data-index="{number - 1}"]')


def action(page: Any, number: int) -> Any:
    return page.locator(f'.entry-editor[data-field="actions"] .entry-card[data-index="{number - 1}"]')


def add(page: Any, noun: str, kind: str) -> None:
    page.get_by_label(f"Kind of {noun} to add").select_option(kind)
    page.get_by_role("button", name=f"Add {noun}").click()


def save(page: Any) -> None:
    page.get_by_role("button", name="Save changes").click()


def test_limits_and_actions_made_edited_and_removed_through_the_form(page: Any, ui_api: Api) -> None:
    target = create_event(ui_api, title=uid("Target"))
    title = uid("limited")
    go(page, "/events/new")
    page.get_by_label("Title").fill(title)
    assert page.locator(".entry-editor .entry-none").count() == 2  # empty states for both lists
    add(page, "limit", "time")
    limit(page, 1).get_by_label("Longest run", exact=True).fill("2")
    limit(page, 1).get_by_label("Longest run unit").select_option("minutes")
    assert limit(page, 1).locator(".entry-reading").inner_text().startswith("Time limit: 2 minutes")
    add(page, "limit", "job")
    limit(page, 2).get_by_label("Jobs at once").fill("3")
    add(page, "limit", "queue")
    limit(page, 3).get_by_label("Queued jobs").fill("5")
    add(page, "action", "email")
    action(page, 1).get_by_label("Email addresses").fill("ops@example.com")
    add(page, "action", "run_event")
    # the event picker lists get_events; pick the target by its id
    picker = action(page, 2).get_by_label("Event", exact=True)
    page.wait_for_function(
        "id => [...document.querySelectorAll('select[name=\"actions[1].event_id\"] option')].some(o => o.value === id)",
        arg=target["id"],
    )
    picker.select_option(target["id"])
    action(page, 2).get_by_label("When").select_option("success")
    page.get_by_role("button", name="Create event").click()
    page.wait_for_url(re.compile(r"#/event/\w+$"))
    event_id = page.url.rsplit("/", 1)[1]
    stored = ui_api.ok("get_event", {"id": event_id})["event"]
    assert stored["limits"] == [
        {"type": "time", "enabled": True, "duration": 120, "abort": True},
        {"type": "job", "enabled": True, "amount": 3},
        {"type": "queue", "enabled": True, "amount": 5},
    ]
    assert stored["actions"] == [
        {"type": "email", "enabled": True, "condition": "error", "email": "ops@example.com"},
        {"type": "run_event", "enabled": True, "condition": "success", "event_id": target["id"]},
    ]

    # edit one, remove one, move one, disable one; then reload and see them
    limit(page, 2).get_by_label("Jobs at once").fill("2")
    page.get_by_role("button", name="Remove action 1", exact=True).click()
    page.get_by_role("button", name="Move limit 3 up").click()
    assert page.get_by_role("button", name="Move limit 2 up").evaluate("b => b === document.activeElement")
    limit(page, 1).get_by_label("Enabled").uncheck()
    save(page)
    page.locator(".event-saved").wait_for()
    stored = ui_api.ok("get_event", {"id": event_id})["event"]
    assert stored["limits"] == [
        {"type": "time", "enabled": False, "duration": 120, "abort": True},
        {"type": "queue", "enabled": True, "amount": 5},
        {"type": "job", "enabled": True, "amount": 2},
    ]
    assert stored["actions"] == [
        {"type": "run_event", "enabled": True, "condition": "success", "event_id": target["id"]}
    ]
    page.reload()
    limit(page, 3).wait_for()
    assert limit(page, 1).get_by_label("Longest run", exact=True).input_value() == "2"
    assert limit(page, 1).get_by_label("Longest run unit").input_value() == "minutes"
    assert not limit(page, 1).get_by_label("Enabled").is_checked()
    assert limit(page, 2).get_attribute("data-type") == "queue"
    assert limit(page, 3).get_by_label("Jobs at once").input_value() == "2"
    assert action(page, 1).get_attribute("data-type") == "run_event"
    assert action(page, 2).count() == 0
    assert action(page, 1).get_by_label("Event", exact=True).input_value() == target["id"]
    page.locator(".entry-editor").first.scroll_into_view_if_needed()
    shot(page, "event-editor-limits")


def test_validation_errors_at_the_card_and_unknown_keys_kept(page: Any, ui_api: Api) -> None:
    limits = [
        {"type": "job", "enabled": True, "amount": 1, "x_note": "keep me"},
        {"type": "queue", "enabled": True, "amount": 5},
    ]
    actions = [{"type": "email", "enabled": True, "condition": "error", "email": "a@example.com", "x_custom": {"a": 1}}]
    event = create_event(ui_api, title=uid("Checked"), limits=limits, actions=actions)
    go(page, f"/event/{event['id']}")
    job = limit(page, 1)
    job.wait_for()

    # a negative amount is refused in the browser, at its card and field; nothing is saved
    job.get_by_label("Jobs at once").fill("-1")
    save(page)
    assert re.search(r"\binvalid\b", job.get_attribute("class") or "")
    assert "1 or more" in job.locator('.field[data-field="limits[0].amount"] .field-error').inner_text()
    assert job.get_by_label("Jobs at once").evaluate("el => el === document.activeElement")
    assert ui_api.ok("get_event", {"id": event["id"]})["event"]["revision"] == event["revision"]
    job.get_by_label("Jobs at once").fill("1")

    # the API's cross rule (a queue limit needs a concurrent-jobs limit) shows at the queue card
    page.get_by_role("button", name="Remove limit 1", exact=True).click()
    save(page)
    queue = limit(page, 1)
    queue.locator(".field-error", has_text="requires a 'Max Concurrent Jobs'").wait_for()
    assert re.search(r"\binvalid\b", queue.get_attribute("class") or "")
    queue.scroll_into_view_if_needed()
    shot(page, "event-editor-limits-error")
    assert ui_api.ok("get_event", {"id": event["id"]})["event"]["revision"] == event["revision"]

    # an API message about an action's field lands at that field
    page.reload()
    limit(page, 2).wait_for()
    action(page, 1).get_by_label("Email addresses").fill("")
    save(page)
    email = action(page, 1).locator('.field[data-field="actions[0].email"]')
    email.locator(".field-error", has_text="No email addresses provided").wait_for()
    assert re.search(r"\binvalid\b", action(page, 1).get_attribute("class") or "")
    action(page, 1).scroll_into_view_if_needed()
    shot(page, "event-editor-actions-error")

    # fixed, saved: the keys the form does not know survive
    action(page, 1).get_by_label("Email addresses").fill("b@example.com")
    limit(page, 2).get_by_label("Queued jobs").fill("4")
    save(page)
    page.locator(".event-saved").wait_for()
    stored = ui_api.ok("get_event", {"id": event["id"]})["event"]
    assert stored["limits"] == [limits[0], {"type": "queue", "enabled": True, "amount": 4}]
    assert stored["actions"] == [{**actions[0], "email": "b@example.com"}]

    # "Edit as JSON" shows everything; an edit there comes back into the form
    page.get_by_role("button", name="Edit as JSON").first.click()
    box = page.get_by_label("Limits as JSON")
    assert json.loads(box.input_value()) == stored["limits"]
    changed = [*stored["limits"], {"type": "retry", "enabled": True, "amount": 3, "duration": 30}]
    box.fill(json.dumps(changed))
    page.get_by_role("button", name="Back to the form").click()
    assert limit(page, 3).get_attribute("data-type") == "retry"
    assert limit(page, 3).get_by_label("Retries").input_value() == "3"
    save(page)
    page.get_by_text(f"Saved revision {stored['revision'] + 1}").wait_for()
    assert ui_api.ok("get_event", {"id": event["id"]})["event"]["limits"] == changed


def test_phone_and_dark(browser: Any, ui_server: Server, ui_api: Api) -> None:
    event = create_event(
        ui_api,
        title=uid("Phone"),
        limits=[
            {"type": "mem", "enabled": True, "amount": 536870912, "duration": 60, "abort": True},
            {"type": "file", "enabled": True, "amount": 5, "size": 10485760, "accept": ".csv"},
        ],
        actions=[{"type": "web_hook", "enabled": True, "condition": "error", "web_hook": "nohook"}],
    )
    context = open_context(browser, ui_server, viewport={"width": 390, "height": 844}, dark=True)
    try:
        login(context)
        page = context.new_page()
        problems = watch(page)
        page.goto(f"/#/event/{event['id']}")
        card = limit(page, 1)
        card.wait_for()
        assert card.get_by_label("Memory", exact=True).input_value() == "512"
        assert card.get_by_label("Memory unit").input_value() == "MB"
        assert action(page, 1).get_by_label("Web hook").input_value() == "nohook"  # kept though not listed
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        card.scroll_into_view_if_needed()
        shot(page, "event-editor-limits-phone-dark")
        assert not problems.unexpected(), problems
    finally:
        context.close()


def test_scheduler_plugin_trigger_made_in_the_form(page: Any, ui_api: Api) -> None:
    plugin = ui_api.ok(
        "create_plugin",
        {
            "title": uid("Gate"),
            "type": "scheduler",
            "command": "/bin/true",
            "params": [{"id": "window", "title": "Window", "type": "text", "value": "5"}],
        },
    )["plugin"]
    event = create_event(ui_api, title=uid("Gated"))
    go(page, f"/event/{event['id']}")
    page.get_by_label("Kind of trigger to add").select_option("plugin")
    page.get_by_role("button", name="Add trigger").click()
    card = page.locator('.trigger-card[data-type="plugin"]')
    card.locator("select[data-key=plugin_id]").select_option(plugin["id"])
    card.get_by_label("Window").fill("7")
    assert plugin["id"] in card.locator(".trigger-reading").inner_text()
    save(page)
    page.locator(".event-saved").wait_for()
    stored = ui_api.ok("get_event", {"id": event["id"]})["event"]
    gates = [t for t in stored["triggers"] if t["type"] == "plugin"]
    assert gates == [{"type": "plugin", "enabled": True, "plugin_id": plugin["id"], "params": {"window": "7"}}]
    page.reload()
    card.get_by_label("Window").wait_for()
    assert card.get_by_label("Window").input_value() == "7"
    assert card.locator("select[data-key=plugin_id]").input_value() == plugin["id"]
