"""The dashboard (#/): running jobs with progress that updates live (polling no faster than once per
5 s), jobs leaving the running list, failures of the last 24 hours, empty states, dark and phone."""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path
from typing import Any

from tests.api.helpers import create_event, run_wait, script_event, start_job, uid
from tests.support.server import Api, Server
from tests.ui.conftest import create_user, login, open_context, shot, watch

#: a job that reports 10 %, waits for a file, reports 60 %, waits for another file, then ends
GATED = """#!/bin/sh
echo '{"xy":1,"progress":0.1}'
while [ ! -f %(one)s ]; do sleep 0.1; done
echo '{"xy":1,"progress":0.6}'
while [ ! -f %(two)s ]; do sleep 0.1; done
echo done
"""
POLL_S = 5


def test_running_job_progress_updates_live(page: Any, ui_api: Api, tmp_path: Path) -> None:
    """A running job appears with its progress, the bar follows the job's progress without a reload,
    the job leaves the running list when it ends, and get_active_jobs is polled at most every 5 s."""
    one, two = tmp_path / "one", tmp_path / "two"
    title = uid("Live progress")
    event = script_event(ui_api, GATED % {"one": one, "two": two}, title=title, params={"annotate": False})
    polls: list[float] = []
    page.on("request", lambda r: polls.append(time.monotonic()) if r.url.endswith("/api/app/get_active_jobs") else None)
    page.get_by_role("heading", name="Running jobs").wait_for()
    page.evaluate("window.__sameDocument = true")
    job_id = start_job(ui_api, event["id"])
    try:
        row = page.locator(f'tr[data-job="{job_id}"]')
        row.wait_for(timeout=2 * POLL_S * 1000)
        assert row.get_by_role("link", name=title).get_attribute("href") == f"#/job/{job_id}"
        bar = row.get_by_role("progressbar")
        page.wait_for_function(
            "el => el.getAttribute('aria-valuenow') === '10'", arg=bar.element_handle(), timeout=2 * POLL_S * 1000
        )
        assert "10%" in row.inner_text()
        assert page.locator("#stat-running").inner_text() != "0"
        shot(page, "dashboard")
        one.touch()
        page.wait_for_function(
            "el => el.getAttribute('aria-valuenow') === '60'", arg=bar.element_handle(), timeout=3 * POLL_S * 1000
        )
        assert "60%" in row.inner_text()
        two.touch()
        row.wait_for(state="detached", timeout=3 * POLL_S * 1000)
    finally:
        one.touch()
        two.touch()
    assert page.evaluate("window.__sameDocument") is True  # live updates, never a reload
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    assert len(gaps) >= 2 and min(gaps) >= POLL_S - 0.6, gaps


def test_failures_of_the_last_day(page: Any, ui_api: Api) -> None:
    """A job that failed a moment ago is listed under the failures of the last 24 hours, linked to
    the job, with its error in words."""
    title = uid("Failing job")
    event = script_event(ui_api, "echo about to fail; exit 3", title=title, params={"annotate": False})
    job = run_wait(ui_api, event["id"])
    assert job["code"] not in (0, None)
    page.reload()
    panel = page.get_by_role("region", name="Failures in the last 24 hours")
    link = panel.get_by_role("link", name=title)
    link.wait_for()
    assert link.get_attribute("href") == f"#/job/{job['id']}"
    assert "error" in panel.inner_text()
    assert int(page.locator("#stat-failed").inner_text()) >= 1
    assert page.get_by_role("region", name="Next runs").is_visible()
    assert page.get_by_role("region", name="Servers online").get_by_role("link").count() >= 1


def test_next_runs_list_a_scheduled_event(page: Any, ui_api: Api) -> None:
    """An event with an hourly schedule shows among the next runs, in local time, linked to it."""
    title = uid("Every hour")
    event = create_event(
        ui_api,
        title=title,
        triggers=[{"type": "schedule", "enabled": True, "minutes": [59]}],
    )
    page.reload()
    panel = page.get_by_role("region", name="Next runs")
    panel.get_by_role("link", name=title).first.wait_for()
    assert panel.get_by_role("link", name=title).first.get_attribute("href") == f"#/event/{event['id']}"
    when = panel.locator("time").first
    assert "UTC" in (when.get_attribute("title") or "")
    assert not re.search(r"\b1[78]\d{8}\b", panel.inner_text())  # never a raw epoch


def test_empty_dashboard_says_what_to_do(browser: Any, ui_server: Server, ui_api: Api) -> None:
    """A user who sees no events is told to create one, with a link to the event editor."""
    category = uid("empty_cat")
    ui_api.ok("create_category", {"id": category, "title": "Nothing here"})
    username = uid("newbie")
    create_user(ui_server, username, "newbie-pass-123", privileges={"create_events": True}, categories=[category])
    context = open_context(browser, ui_server)
    login(context, username, "newbie-pass-123")
    page = context.new_page()
    problems = watch(page)
    try:
        page.goto("/")
        page.get_by_text("No events yet — create one").wait_for()
        link = page.get_by_role("link", name="Create an event")
        assert link.get_attribute("href") == "#/events/new"
        assert not problems, problems
    finally:
        context.close()


def test_dashboard_dark_and_phone(browser: Any, ui_server: Server) -> None:
    """The dashboard reads in dark mode and at phone width without a horizontal page scroll."""
    for name, kwargs in (
        ("dashboard-dark", {"dark": True}),
        ("dashboard-phone", {"viewport": {"width": 390, "height": 844}}),
    ):
        context = open_context(browser, ui_server, **kwargs)
        login(context)
        page = context.new_page()
        problems = watch(page)
        try:
            page.goto("/")
            page.get_by_role("heading", name="Servers online").wait_for()
            page.locator(".dash-updated").filter(has_text="Updated").wait_for()
            assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
            shot(page, name, full_page=True)
            assert not problems, problems
        finally:
            context.close()
