"""The Servers pages (#/servers, #/server/:id: the local server, its figures, enable/disable, groups,
install tokens) and the Activity page (#/activity: recent actions, filters, administrators only)."""

from __future__ import annotations

import re
from typing import Any

from tests.api.helpers import uid
from tests.support.server import Api, Server
from tests.ui.conftest import create_user, login, open_context, shot, watch


def visit(page: Any, path: str) -> None:
    """Go to a page once the shell has its session (a hash change before that shows the login form)."""
    page.wait_for_function("!document.getElementById('topbar').hidden")
    page.goto(f"/#{path}")


def test_servers_page_shows_the_local_server(page: Any, ui_api: Api) -> None:
    """The conductor's own server is listed with its groups, load and memory; its page shows its
    details; an administrator can disable and re-enable it."""
    local = ui_api.ok("get_active_servers")["rows"][0]
    visit(page, "/servers")
    row = page.locator(f'tr[data-server="{local["id"]}"]')
    row.wait_for()
    text = row.inner_text()
    assert local["hostname"] in text and "Main Group" in text and "enabled" in text
    assert re.search(r"\d+\.\d\d / \d+ cores?", text) and re.search(r"of \d", text)  # load and memory in words
    groups = page.get_by_role("region", name="Groups")
    assert ".+" in groups.inner_text()
    assert groups.get_by_role("link", name="Manage groups").get_attribute("href") == "#/admin/groups"
    shot(page, "servers")
    try:
        row.get_by_role("button", name=f"Disable {local['hostname']}").click()
        row.get_by_text("disabled").wait_for()
        assert ui_api.ok("get_server", {"id": local["id"]})["server"]["enabled"] is False
        row.get_by_role("button", name=f"Enable {local['hostname']}").click()
        row.get_by_text("enabled", exact=True).wait_for()
    finally:
        ui_api.ok("update_server", {"id": local["id"], "enabled": True})
    row.get_by_role("link", name=local["hostname"]).click()
    page.wait_for_url(re.compile(rf"#/server/{local['id']}$"))
    about = page.get_by_role("region", name="About this server")
    about.get_by_text("online").wait_for()
    assert local["hostname"] in about.inner_text() and "Booted" in about.inner_text()
    shot(page, "server")


def test_install_token_command_is_shown_once(page: Any, ui_server: Server) -> None:
    """Creating an install token shows the agent command with this conductor's URL and the token,
    and lists the token (without the token itself) for revoking."""
    visit(page, "/servers")
    panel = page.get_by_role("region", name="Add a server")
    panel.get_by_label("Token valid for").select_option(label="1 hour")
    panel.get_by_role("button", name="Create install token").click()
    command = panel.get_by_label("Agent install command")
    command.wait_for()
    value = command.input_value()
    match = re.fullmatch(rf"cronwright agent --conductor {re.escape(ui_server.url)} --token ([0-9a-f]{{64}})", value)
    assert match, value
    panel.get_by_role("heading", name="Live install tokens").wait_for()
    page.reload()
    page.get_by_role("region", name="Add a server").get_by_role("button", name="Create install token").wait_for()
    assert match.group(1) not in page.content()


def test_activity_lists_a_recent_action(page: Any, ui_api: Api) -> None:
    """A change made a moment ago is at the top of the activity, in words with a local time and the
    key that made it; the keyword and action filters find it; paging says where we are."""
    category = uid("act_cat")
    ui_api.ok("create_category", {"id": category, "title": f"Audit {category}"})
    visit(page, "/activity")
    first = page.locator("tbody tr").first
    first.wait_for()
    assert f"Audit {category}" in page.locator("tbody").inner_text()
    row = page.locator("tbody tr", has_text=f"Audit {category}")
    text = row.inner_text()
    assert "Category create" in text and "API key" in text
    assert "UTC" in (row.locator("time").first.get_attribute("title") or "")
    assert not re.search(r"\b1[78]\d{8}\b", text)
    shot(page, "activity")
    page.get_by_label("Keyword").fill(category)
    page.get_by_label("Action").fill("category_create")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("navigation", name="Pages").get_by_text("1–1 of 1").wait_for()
    assert page.locator("tbody tr").count() == 1
    page.get_by_label("Action").fill("category_delete")
    page.get_by_role("button", name="Search").click()
    page.get_by_text("Nothing matches").wait_for()


def test_activity_is_for_administrators(browser: Any, ui_server: Server) -> None:
    """A user without admin sees a sentence about the activity log instead of an error."""
    username = uid("reader")
    create_user(ui_server, username, "reader-pass-123", privileges={"run_jobs": True})
    context = open_context(browser, ui_server)
    login(context, username, "reader-pass-123")
    page = context.new_page()
    problems = watch(page)
    try:
        page.goto("/#/activity")
        page.get_by_text("The activity log is for administrators").wait_for()
        assert page.locator("table").count() == 0
        assert not problems, problems
    finally:
        context.close()


def test_phone_width(browser: Any, ui_server: Server) -> None:
    """Servers, activity and an admin form fit a phone's width (wide tables scroll in their box)."""
    context = open_context(browser, ui_server, viewport={"width": 390, "height": 844})
    login(context)
    page = context.new_page()
    problems = watch(page)
    try:
        page.goto("/")
        for path, ready in (("/servers", "Online servers"), ("/activity", "Activity"), ("/admin/users", "Users")):
            visit(page, path)
            page.get_by_role("heading", name=ready, exact=True).wait_for()
            page.locator("table").first.wait_for()
            if path == "/admin/users":
                page.get_by_role("button", name="New user").click()
                page.locator("fieldset[data-name=privileges]").wait_for()
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, (path, width)
            shot(page, f"phone{path.replace('/', '-')}")
        assert not problems, problems
    finally:
        context.close()
