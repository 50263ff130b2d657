"""The Run-now and Job pages in Chromium: a run from the form lands on its live job page, the log
streams in with ANSI colours, a long job is aborted from its page, and a large log shows only a
window of its end with earlier parts fetched on demand."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from tests.api.helpers import script_event, start_job, uid, wait_job, wait_state
from tests.support.server import Api, Server
from tests.ui.conftest import login, open_context, shot, watch

SLOW_COLOURED = (
    "for i in 1 2 3 4 5 6; do\n"
    "  printf 'line %s \\033[1;31mred alert\\033[0m then \\033[34mblue\\033[0m\\n' $i\n"
    '  echo "$((i*15))%"\n'
    "  sleep 0.7\n"
    "done\n"
    """echo '{"xy":1,"data":{"answer":42}}'\n"""
)


def _wait_until(predicate: Any, timeout_s: float = 15) -> None:
    deadline = time.time() + timeout_s
    while not predicate():
        assert time.time() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_run_now_lands_on_the_live_job_with_coloured_log(page: Any, ui_api: Api) -> None:
    event = script_event(ui_api, SLOW_COLOURED, title=f"Coloured {uid()}")
    page.goto(f"/#/event/{event['id']}/run")
    page.get_by_role("heading", name=re.compile("Run “Coloured")).wait_for()
    assert page.get_by_label("Script Source").input_value().startswith("#!/bin/sh")  # prefilled from the event
    # malformed input data is refused at its field, before anything runs
    page.get_by_label("Input data").fill("{not json")
    page.get_by_role("button", name="Run now").click()
    error = page.locator('.field[data-field="input"] .field-error')
    assert "not valid JSON" in error.inner_text()
    assert "/job/" not in page.url
    page.get_by_label("Input data").fill('{"region": "eu"}')
    shot(page, "run")
    page.get_by_role("button", name="Run now").click()
    page.wait_for_url(re.compile(r"#/job/j\w+$"))
    job_id = page.url.rsplit("/", 1)[1]
    log = page.locator(".log-body")
    # the first lines show while the job is still running
    page.locator(".log-body", has_text="line 2 red alert").wait_for()
    assert page.get_by_role("button", name="Abort job").is_visible()
    assert ui_api.ok("get_job", {"id": job_id})["job"].get("final") is not True
    assert "line 6" not in log.inner_text()
    red = log.locator("span.ansi-fg-1.ansi-bold").first
    assert red.inner_text() == "red alert"
    assert red.evaluate("el => getComputedStyle(el).fontWeight") in ("700", "bold")
    assert log.locator("span.ansi-fg-4", has_text="blue").count() >= 1
    assert "\x1b" not in log.inner_text() and "[1;31m" not in log.inner_text()
    page.get_by_role("progressbar").wait_for()
    shot(page, "job-running")
    # the end: the final record's outcome, output data and input, with the whole log
    page.locator(".job-summary .badge.ok", has_text="success").wait_for(timeout=20_000)
    assert [f"line {i} " in log.inner_text() for i in range(1, 7)] == [True] * 6
    page.get_by_role("region", name="Output data").get_by_text('"answer": 42').wait_for()
    assert '"region": "eu"' in page.get_by_role("region", name="Input").inner_text()
    assert page.get_by_role("button", name="Run again").is_visible()
    download = page.get_by_role("link", name="Download")
    assert "download_job_log" in (download.get_attribute("href") or "")
    shot(page, "job-finished")
    # search highlights matches in the log
    page.get_by_label("Find in log").fill("red alert")
    page.locator(".log-search-count", has_text="of 6").wait_for()
    assert page.evaluate("CSS.highlights.get('log-match').size") == 6
    assert job_id == wait_job(ui_api, job_id)["id"]


def test_abort_a_long_job_from_its_page(page: Any, ui_api: Api, browser: Any, ui_server: Server) -> None:
    event = script_event(ui_api, "echo started\nsleep 120\n", title=f"Long {uid()}")
    job_id = start_job(ui_api, event["id"])
    wait_state(ui_api, job_id, "active")
    page.goto(f"/#/job/{job_id}")
    page.locator(".log-body", has_text="started").wait_for()
    _dark_and_phone(browser, ui_server, job_id, "running")
    page.get_by_role("button", name="Abort job").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Abort job").click()
    page.locator(".job-summary .badge", has_text="aborted").wait_for(timeout=20_000)
    assert page.get_by_role("button", name="Abort job").count() == 0
    assert "aborted by" in page.locator(".job-summary").inner_text().lower()
    assert wait_job(ui_api, job_id)["code"] == "abort"
    _dark_and_phone(browser, ui_server, job_id, "finished")
    # run again: the same event and params, straight to the new job
    page.get_by_role("button", name="Run again").click()
    page.get_by_role("dialog").get_by_role("button", name="Run again").click()
    page.wait_for_url(lambda url: re.search(r"#/job/j\w+$", url) is not None and not url.endswith(job_id))
    again = page.url.rsplit("/", 1)[1]
    assert again != job_id
    page.locator(".log-body", has_text="started").wait_for()
    assert ui_api.ok("get_job", {"id": again})["job"]["event"] == event["id"]
    ui_api.ok("abort_job", {"id": again})
    page.locator(".job-summary .badge", has_text="aborted").wait_for(timeout=20_000)


def _dark_and_phone(browser: Any, ui_server: Server, job_id: str, state: str) -> None:
    """Screenshots of the job page in dark mode and at phone width (no horizontal page scroll)."""
    for name, options in (("dark", {"dark": True}), ("phone", {"viewport": {"width": 390, "height": 844}})):
        context = open_context(browser, ui_server, **options)
        login(context)
        other = context.new_page()
        problems = watch(other)
        try:
            other.goto(f"/#/job/{job_id}")
            other.locator(".log-body", has_text="started").wait_for()
            assert other.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), (
                "page scrolls sideways"
            )
            shot(other, f"job-{state}-{name}", full_page=True)
            assert not problems, problems
        finally:
            context.close()


def test_a_large_log_shows_a_window_and_loads_earlier_parts(page: Any, ui_api: Api) -> None:
    # about 6.5 MB, printed in well under a second
    lines = 120_000
    event = script_event(
        ui_api, f"seq 1 {lines} | sed 's/.*/row & \\x1b[32mok\\x1b[0m padding padding padding padding/'\n"
    )
    job_id = start_job(ui_api, event["id"])
    job = wait_job(ui_api, job_id)
    assert job["log_file_size"] > 6_000_000
    started = time.perf_counter()
    page.goto(f"/#/job/{job_id}")
    body = page.locator(".log-body")
    body.get_by_text(f"row {lines} ").wait_for()
    shown_ms = (time.perf_counter() - started) * 1000
    dom_chars = page.evaluate("document.querySelector('.log-body').textContent.length")
    assert dom_chars < 300_000, dom_chars  # a window, never the whole log
    assert "row 1 " not in body.inner_text()
    first_shown = int(re.match(r"row (\d+) ", body.inner_text()).group(1))  # type: ignore[union-attr]
    assert first_shown > lines - 5000 and body.locator("span.ansi-fg-2").first.inner_text() == "ok"
    assert "Showing" in page.locator(".log-window-note").inner_text()
    # the page answers at once: a search over the window is quick
    page.get_by_label("Find in log").fill(f"row {lines} ")
    page.locator(".log-search-count", has_text="1 of 1").wait_for()
    # "Load earlier" puts the preceding lines on top, joined at a line start
    page.get_by_role("button", name="Load earlier").click()
    page.locator(".log-body", has_text=f"row {first_shown - 1} ok").wait_for()
    text = body.inner_text()
    assert f"row {first_shown - 1} ok padding" in text and f"row {first_shown} ok padding" in text
    assert page.evaluate("document.querySelector('.log-body').textContent.length") > dom_chars
    # many more: the DOM stays bounded (the newest part makes room and comes back on demand)
    for _ in range(5):
        page.get_by_role("button", name="Load earlier").click()
        page.get_by_role("button", name="Load earlier").and_(page.locator(":enabled")).wait_for()
    assert page.evaluate("document.querySelector('.log-body').textContent.length") < 1_200_000
    page.get_by_role("button", name="Jump to latest").click()
    body.get_by_text(f"row {lines} ").wait_for()
    assert shown_ms < 5000, shown_ms
    shot(page, "job-large-log")


def test_run_with_an_input_file_and_an_api_error_at_its_field(page: Any, ui_api: Api, tmp_path: Any) -> None:
    event = script_event(ui_api, "cat notes.txt\n", title=f"Files {uid()}")
    page.goto(f"/#/event/{event['id']}/run")
    script = page.get_by_label("Script Source")
    original = script.input_value()
    script.fill("")
    page.get_by_role("button", name="Run now").click()
    error = page.locator('.field[data-field="script"] .field-error')
    error.get_by_text("script").wait_for()  # the server's validation message, at its field
    assert "{" not in error.inner_text() and "/job/" not in page.url
    script.fill(original)
    upload = tmp_path / "notes.txt"
    upload.write_text("hello from an uploaded file\n")
    page.get_by_label("Input files").set_input_files(str(upload))
    page.get_by_text("notes.txt (28 bytes)").wait_for()
    page.get_by_role("button", name="Run now").click()
    page.wait_for_url(re.compile(r"#/job/j\w+$"))
    page.locator(".log-body", has_text="hello from an uploaded file").wait_for()
    page.get_by_role("region", name="Input").get_by_role("link", name="notes.txt").wait_for()


def test_an_html_report_stays_in_its_box(page: Any, ui_api: Api) -> None:
    """A report's styles cannot cover the page (a fake "log in again" overlay): positioning and
    stacking are dropped, the report is clipped to its box, and parsing it raises no CSP error."""
    overlay = (
        '<div style="position:fixed;top:0;left:0;width:100vw;height:100vh;background:red;z-index:99999;color:blue">'
        'OVERLAY <a href="https://example.invalid/login">Session expired - log in again</a></div>'
    )
    report = '{"xy":1,"html":{"title":"Report","content":' + json.dumps(overlay) + "}}"
    event = script_event(ui_api, f"cat <<'EOF'\n{report}\nEOF\n")
    job_id = start_job(ui_api, event["id"])
    wait_job(ui_api, job_id)
    page.goto(f"/#/job/{job_id}")
    shown = page.locator(".job-html div", has_text="OVERLAY")
    shown.wait_for()
    style = shown.evaluate("el => [el.style.position, el.style.zIndex, el.style.top, el.style.color]")
    assert style == ["", "", "", "blue"]  # no positioning or stacking; harmless styles still apply
    clip = page.locator(".job-html").evaluate("el => [getComputedStyle(el).contain, getComputedStyle(el).overflow]")
    assert "paint" in clip[0] and clip[1] == "auto"
    # the menu is not covered: it can be clicked
    page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    page.wait_for_url(re.compile(r"#/history"))
