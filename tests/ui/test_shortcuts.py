"""Keyboard triggers (triggers.md `keyboard`): a shortcut pressed anywhere in the UI runs the event
whose enabled keyboard trigger lists it; with `watch`, the job's page opens."""

from __future__ import annotations

import re
from typing import Any

from tests.api.helpers import create_event, uid, wait_job
from tests.support.server import Api


def test_a_shortcut_runs_its_event(page: Any, ui_api: Api) -> None:
    triggers = [
        {"type": "keyboard", "enabled": True, "keys": ["Control+Alt+KeyK"], "watch": True},
        {"type": "manual", "enabled": True},  # the shortcut runs it as Run now does
    ]
    event = create_event(ui_api, title=uid("keys"), triggers=triggers)
    page.goto("/#/history")  # a page where nothing else uses the keys
    page.get_by_role("heading", name="History").wait_for()
    page.reload()  # the shortcuts are read when the session starts
    page.get_by_role("heading", name="History").wait_for()
    # the shortcuts load in the background: press until the job's page opens
    for _ in range(50):
        page.keyboard.press("Control+Alt+KeyK")
        try:
            page.wait_for_url(re.compile(r"#/job/j\w+$"), timeout=200)
            break
        except Exception:
            continue
    job_id = page.url.rsplit("/", 1)[1]
    job = wait_job(ui_api, job_id)
    assert job["event"] == event["id"]
    # the editor shows the shortcut in the trigger's card
    page.goto(f"/#/event/{event['id']}")
    card = page.locator(".trigger-card", has_text="Keyboard")
    card.wait_for()
    assert card.get_by_label(re.compile("Shortcuts")).input_value() == "Control+Alt+KeyK"
