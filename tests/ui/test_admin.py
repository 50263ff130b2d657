"""The Admin pages (#/admin/:section): API keys (the plain key shown once), categories, users, web
hooks with a test, validation errors at their field, confirmation before deletes, and no admin page
for a user without admin."""

from __future__ import annotations

import re
import socket
from typing import Any

import httpx

from tests.api.helpers import uid
from tests.support.server import Api, Server
from tests.ui.conftest import create_user, login, open_context, shot, watch


def visit(page: Any, path: str) -> None:
    """Go to a page once the shell has its session (a hash change before that shows the login form)."""
    page.wait_for_function("!document.getElementById('topbar').hidden")
    page.goto(f"/#{path}")


def editor(page: Any) -> Any:
    return page.locator("section.editor")


def test_api_key_is_shown_once(page: Any, ui_api: Api) -> None:
    """A new API key's plain key is shown once after creation, works, and is gone after a reload."""
    title = uid("Export script")
    visit(page, "/admin/keys")
    page.get_by_role("button", name="New API key").click()
    form = editor(page)
    form.get_by_label("Title").fill(title)
    form.get_by_label("Run Jobs").check()
    shot(page, "admin-keys-form")
    form.get_by_role("button", name="Create API key").click()
    plain = page.get_by_label("The new API key")
    plain.wait_for()
    key = plain.input_value()
    assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", key), key
    assert "only time it is shown" in page.get_by_role("status").filter(has_text="created").inner_text()
    page.get_by_role("button", name="Copy key").wait_for()
    shot(page, "admin-keys")
    assert ui_api.with_key(key).ok("get_privileges")["rows"]  # the key works
    row = page.locator("tbody tr", has_text=title)
    row.wait_for()
    assert key not in row.inner_text()
    page.reload()
    page.locator("tbody tr", has_text=title).wait_for()
    assert key not in page.content()
    assert page.get_by_label("The new API key").count() == 0


def test_category_create_edit_delete(page: Any, ui_api: Api) -> None:
    """A category is created, renamed and, after a confirmation (cancel keeps it), deleted."""
    cat_id = uid("cat")
    visit(page, "/admin/categories")
    page.get_by_role("button", name="New category").click()
    form = editor(page)
    form.get_by_label("ID").fill(cat_id)
    form.get_by_label("Title").fill("Nightly reports")
    form.get_by_label("Colour").select_option("green")
    form.get_by_role("button", name="Create category").click()
    row = page.locator(f'tr[data-id="{cat_id}"]')
    row.wait_for()
    assert "Nightly reports" in row.inner_text()
    assert ui_api.ok("get_category", {"id": cat_id})["category"]["color"] == "green"
    shot(page, "admin-categories")
    row.get_by_role("button", name="Edit").click()
    assert editor(page).get_by_label("ID").get_attribute("readonly") is not None
    editor(page).get_by_label("Title").fill("Weekly reports")
    editor(page).get_by_label("Enabled").uncheck()
    editor(page).get_by_role("button", name="Save changes").click()
    row.get_by_text("Weekly reports").wait_for()
    saved = ui_api.ok("get_category", {"id": cat_id})["category"]
    assert saved["title"] == "Weekly reports" and saved["enabled"] is False
    row.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog")
    assert "Weekly reports" in dialog.inner_text()
    dialog.get_by_role("button", name="Cancel").click()
    assert row.is_visible()
    row.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    row.wait_for(state="detached")
    assert ui_api.error("get_category", {"id": cat_id})[1] == "notfound"


def test_user_create_and_edit(page: Any, ui_server: Server) -> None:
    """An administrator creates a user with a role, who can then log in; a short password is refused
    at its field."""
    username = uid("ops")
    visit(page, "/admin/users")
    page.get_by_role("button", name="New user").click()
    form = editor(page)
    form.get_by_label("User name").fill(username)
    form.get_by_label("Password").fill("short")
    form.get_by_label("Full name").fill("Olga Ops")
    form.get_by_label("All Users").check()
    form.get_by_role("button", name="Create user").click()
    error = form.locator('.field[data-field="password"] .field-error')
    error.filter(has_text=re.compile("password", re.I)).wait_for()
    shot(page, "admin-users-form", full_page=True)
    form.get_by_label("Password").fill("long-enough-pass")
    form.get_by_role("button", name="Create user").click()
    row = page.locator(f'tr[data-id="{username}"]')
    row.wait_for()
    assert "Olga Ops" in row.inner_text() and "All Users" in row.inner_text()
    shot(page, "admin-users")
    row.get_by_role("button", name="Edit").click()
    editor(page).get_by_label("Email", exact=True).fill("olga@example.com")
    editor(page).get_by_role("button", name="Save changes").click()
    row.get_by_text("olga@example.com").wait_for()
    answer = httpx.post(ui_server.url + "/api/user/login", json={"username": username, "password": "long-enough-pass"})
    assert answer.json()["code"] == 0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_web_hook_validation_and_test(page: Any, ui_api: Api) -> None:
    """A malformed URL is shown at the URL field; the test of a hook whose target does not answer is
    reported in words (not raw JSON); the hook is saved."""
    title = uid("Chat hook")
    visit(page, "/admin/hooks")
    page.get_by_role("button", name="New web hook").click()
    form = editor(page)
    form.get_by_label("Title").fill(title)
    form.get_by_label("URL").fill("ftp://example.com/hook")
    form.get_by_role("button", name="Create web hook").click()
    url_error = form.locator('.field[data-field="url"] .field-error')
    url_error.filter(has_text="url").wait_for()
    assert form.locator('.field[data-field="url"]').get_attribute("class") == "field invalid"
    assert form.get_by_label("URL").evaluate("el => document.activeElement === el")
    form.get_by_label("Headers (JSON)").fill("[{not json")
    form.get_by_label("URL").fill(f"http://127.0.0.1:{_closed_port()}/hook")
    form.get_by_role("button", name="Create web hook").click()
    form.locator('.field[data-field="headers"] .field-error').filter(has_text="JSON").wait_for()
    form.get_by_label("Headers (JSON)").fill('[{"name": "X-Team", "value": "ops"}]')
    form.get_by_role("button", name="Send test").click()
    result = page.get_by_role("status", name="Test result")
    result.wait_for(timeout=30_000)
    text = result.inner_text()
    assert text.startswith("The test request failed.") and "{" not in text, text
    result.scroll_into_view_if_needed()
    shot(page, "admin-hooks")
    form.get_by_role("button", name="Create web hook").click()
    page.locator("tbody tr", has_text=title).wait_for()
    saved = [h for h in ui_api.ok("get_web_hooks")["rows"] if h["title"] == title]
    assert saved and saved[0]["headers"] == [{"name": "X-Team", "value": "ops"}]


def test_every_section_renders(page: Any) -> None:
    """Each admin section lists its records (or says what to do) and has its tab marked."""
    visit(page, "/admin")
    page.get_by_role("link", name=re.compile("^Roles")).click()
    for section, heading, button in (
        ("roles", "Roles", "New role"),
        ("plugins", "Plugins", "New plugin"),
        ("tags", "Tags", "New tag"),
        ("groups", "Server groups", "New group"),
        ("keys", "API keys", "New API key"),
    ):
        page.goto(f"/#/admin/{section}")
        page.get_by_role("heading", name=heading, exact=True).wait_for()
        page.get_by_role("button", name=button).wait_for()
        page.locator("tbody tr").first.wait_for()
        tab = page.get_by_role("navigation", name="Admin sections").get_by_role("link", name=heading)
        assert tab.get_attribute("aria-current") == "page"
        shot(page, f"admin-{section}-list")
    page.get_by_role("button", name="New API key").click()
    page.get_by_label("Administrator").wait_for()
    page.goto("/#/admin/plugins")
    page.locator("tr", has_text="Shell Script").get_by_role("button", name="Edit").click()
    params = editor(page).get_by_label("Parameters (JSON)")
    assert '"script"' in params.input_value()
    shot(page, "admin-plugins")


def test_a_non_admin_cannot_reach_admin_pages(browser: Any, ui_server: Server) -> None:
    """A user without admin gets the shell's refusal on every admin section, and no admin data."""
    username = uid("editor")
    create_user(ui_server, username, "editor-pass-123", privileges={"create_events": True, "edit_events": True})
    context = open_context(browser, ui_server)
    login(context, username, "editor-pass-123")
    page = context.new_page()
    problems = watch(page)
    calls: list[str] = []
    page.on("request", lambda r: calls.append(r.url) if "/api/" in r.url else None)
    try:
        for section in ("keys", "users", "hooks"):
            page.goto(f"/#/admin/{section}")
            page.get_by_role("heading", name="Administrators only").wait_for()
        assert not [c for c in calls if re.search(r"get_api_keys|admin_get_users|get_web_hooks", c)]
        assert not problems, problems
    finally:
        context.close()
