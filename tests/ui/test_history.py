"""The History page in Chromium: search_jobs with filters and paging, rows linking to their jobs,
and the chart of outcomes and durations."""

from __future__ import annotations

import re
from typing import Any

from tests.api.helpers import run_wait, script_event, start_job, uid, wait_job, wait_state
from tests.support.server import Api, Server
from tests.ui.conftest import login, open_context, shot, watch


def _two_jobs(ui_api: Api) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """One event with a successful and an aborted job."""
    event = script_event(ui_api, "echo working\nsleep ${pause:-0}\n", title=f"History {uid()}")
    done = run_wait(ui_api, event["id"])
    long_id = start_job(ui_api, event["id"], params={"pause": "60"})
    wait_state(ui_api, long_id, "active")
    ui_api.ok("abort_job", {"id": long_id})
    aborted = wait_job(ui_api, long_id)
    assert aborted["code"] == "abort"
    return event, done, aborted


def test_filters_find_both_jobs_and_the_chart_draws_them(page: Any, ui_api: Api) -> None:
    event, done, aborted = _two_jobs(ui_api)
    page.goto("/#/history")
    page.get_by_role("heading", name="History").wait_for()
    page.get_by_label("Event").fill(event["title"])  # by title: searched by its id
    page.get_by_role("button", name="Search").click()
    rows = page.get_by_role("table").locator("tbody tr")
    page.get_by_text("Jobs 1–2 of 2").wait_for()  # the filtered list (the first one shows every job)
    assert rows.count() == 2 and page.get_by_role("link", name=aborted["id"]).is_visible()
    assert f"event={event['id']}" in page.url  # the filters are in the address
    assert page.get_by_role("link", name=done["id"]).is_visible()
    table = page.get_by_role("table").inner_text()
    assert "success" in table and "aborted" in table
    chart = page.get_by_role("img", name=re.compile(r"^2 jobs by hour"))
    chart.wait_for()
    label = chart.get_attribute("aria-label") or ""
    assert "1 success" in label and "1 aborted" in label
    assert chart.locator("rect.bar-success").count() == 1 and chart.locator("rect.bar-abort").count() == 1
    shot(page, "history")
    # one outcome: only the aborted job
    page.get_by_label("Outcome", exact=True).select_option("abort")
    page.get_by_text("Jobs 1–1 of 1").wait_for()
    assert rows.count() == 1 and page.get_by_role("link", name=aborted["id"]).is_visible()
    # rows lead to their job
    page.get_by_role("link", name=aborted["id"]).click()
    page.locator(".job-summary .badge", has_text="aborted").wait_for()
    # back: the filtered list again, from the address
    page.go_back()
    page.get_by_role("link", name=aborted["id"]).wait_for()
    assert page.get_by_label("Outcome", exact=True).input_value() == "abort"


def test_paging_and_an_empty_result(page: Any, ui_api: Api) -> None:
    event = script_event(ui_api, "echo hi\n", title=f"Paged {uid()}")
    ids = [run_wait(ui_api, event["id"])["id"] for _ in range(27)]
    page.goto(f"/#/history?event={event['id']}")
    page.get_by_text("Jobs 1–25 of 27").wait_for()
    assert page.get_by_role("link", name=ids[-1]).is_visible()  # newest first
    page.get_by_role("button", name="Next").click()
    page.get_by_text("Jobs 26–27 of 27").wait_for()
    assert page.get_by_role("link", name=ids[0]).is_visible()
    assert page.get_by_role("button", name="Next").is_disabled()
    page.get_by_label("Query").fill("tags:no_such_tag_anywhere")
    page.get_by_role("button", name="Search").click()
    page.get_by_text("No jobs match these filters").wait_for()
    page.get_by_role("button", name="Clear filters").first.click()
    page.get_by_text("No jobs match these filters").wait_for(state="detached")


def test_history_dark_and_phone(browser: Any, ui_server: Server, ui_api: Api) -> None:
    event, _done, _aborted = _two_jobs(ui_api)
    for name, options in (("dark", {"dark": True}), ("phone", {"viewport": {"width": 390, "height": 844}})):
        context = open_context(browser, ui_server, **options)
        login(context)
        page = context.new_page()
        problems = watch(page)
        try:
            page.goto(f"/#/history?event={event['id']}")
            page.get_by_role("img", name=re.compile("jobs by hour")).wait_for()
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), (
                "page scrolls sideways"
            )
            shot(page, f"history-{name}", full_page=True)
            assert not problems, problems
        finally:
            context.close()
