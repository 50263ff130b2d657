"""The web UI's shell: served by the conductor with a strict Content-Security-Policy, login and
logout through the form, the session cookie's attributes, a limited user's menu, phone width."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.api.helpers import uid
from tests.support.server import ADMIN_PASSWORD, Server
from tests.ui.conftest import create_user, login, open_context, shot, watch


def test_served_with_a_strict_policy(ui_server: Server) -> None:
    index = httpx.get(ui_server.url + "/")
    assert index.status_code == 200 and "text/html" in index.headers["content-type"]
    policy = index.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    assert index.headers["x-content-type-options"] == "nosniff"
    # every asset the shell names is in the package and served from this server
    for asset in re.findall(r'(?:src|href)="(/ui/[^"]+)"', index.text):
        response = httpx.get(ui_server.url + asset)
        assert response.status_code == 200, asset
        assert response.headers["content-security-policy"] == policy
    assert "<script>" not in index.text and "style=" not in index.text  # nothing inline
    assert httpx.get(ui_server.url + "/ui/js/../../api/app/ping").status_code in (200, 404)  # no escape from /ui
    assert httpx.get(ui_server.url + "/ui/nothing-here.js").status_code == 404


def test_login_logout_and_the_cookie(browser: Any, ui_server: Server) -> None:
    context = open_context(browser, ui_server)
    page = context.new_page()
    problems = watch(page)
    try:
        page.goto("/")
        page.get_by_label("User name").fill("admin")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Log in").click()
        alert = page.get_by_role("alert")
        alert.wait_for()
        assert "{" not in alert.inner_text()  # a sentence, never raw JSON
        shot(page, "login-error")
        page.get_by_label("Password").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Events").wait_for()
        cookie = next(c for c in context.cookies() if c["name"] == "session_id")
        assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
        assert page.evaluate("document.cookie") == ""  # scripts cannot read the session
        page.get_by_role("button", name="Log out").click()
        page.get_by_role("button", name="Log in").wait_for()
        # the old session is gone on the server too
        response = context.request.post("/api/user/resume_session", data={})
        assert response.json()["code"] == "session"
        assert not problems, problems
    finally:
        context.close()


def test_a_limited_user_sees_no_admin_pages(browser: Any, ui_server: Server) -> None:
    username = uid("viewer")
    create_user(ui_server, username, "viewer-pass-123", full_name="Vera Viewer", privileges={"run_jobs": True})
    context = open_context(browser, ui_server)
    login(context, username, "viewer-pass-123")
    page = context.new_page()
    problems = watch(page)
    try:
        page.goto("/")
        menu = page.get_by_role("navigation", name="Main")
        menu.get_by_role("link", name="Events").wait_for()
        assert menu.get_by_role("link", name="Admin").count() == 0
        page.goto("/#/admin")
        page.get_by_role("heading", name="Administrators only").wait_for()
        assert "Vera Viewer" in page.locator("#whoami").inner_text()
        assert not problems, problems
    finally:
        context.close()


def test_phone_width_menu(browser: Any, ui_server: Server) -> None:
    context = open_context(browser, ui_server, viewport={"width": 390, "height": 800})
    login(context)
    page = context.new_page()
    try:
        page.goto("/")
        toggle = page.get_by_role("button", name="Menu")
        toggle.wait_for()
        events = page.get_by_role("navigation", name="Main").get_by_role("link", name="Events")
        assert not events.is_visible() or events.bounding_box()["x"] < 0
        toggle.click()
        events.click()
        page.wait_for_url(re.compile(r"#/events$"))
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= 390, scroll_width  # nothing wider than the phone
        shot(page, "phone-menu")
    finally:
        context.close()


def test_unknown_page(page: Any) -> None:
    page.goto("/#/no/such/page")
    page.get_by_role("heading", name="Page not found").wait_for()


def test_keyboard_only(browser: Any, ui_server: Server) -> None:
    """Log in and reach a page with the keyboard alone: every control is focusable in order."""
    context = open_context(browser, ui_server)
    page = context.new_page()
    problems = watch(page)
    try:
        page.goto("/")
        page.get_by_label("User name").wait_for()
        assert page.evaluate("document.activeElement.name") == "username"  # focused at once
        page.keyboard.type("admin")
        page.keyboard.press("Tab")
        page.keyboard.type(ADMIN_PASSWORD)
        page.keyboard.press("Enter")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Events").wait_for()
        for _ in range(30):  # tab through the shell to the menu's Events link
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.textContent") == "Events":
                break
        else:
            raise AssertionError("the Events link is not reachable with Tab")
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"  # the focus is visible
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"#/events$"))
        assert not problems, problems
    finally:
        context.close()
