"""Browser tests of the web UI (docs/ui.md): Debian's Chromium driven by Playwright's sync API,
black-box against a real ``cronwright serve`` (SQLite).

- ``ui_server``: one server per test worker; tests use unique names and never rely on counts.
- ``page``: a fresh browser context (1280×800, the zone ``Europe/Berlin``), logged in as the
  admin through ``/api/user/login`` (the form itself is tested in ``test_shell.py``). Console
  errors, page errors and Content-Security-Policy violations fail the test.
- ``shot(page, name)`` saves a screenshot to ``test-artifacts/ui/`` (``CRONWRIGHT_UI_ARTIFACTS``);
  a failed test saves its own there too.

Without Playwright or Chromium the tests are skipped, except under CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StartServer
from tests.support.browser import CHROMIUM, sync_playwright_or_skip
from tests.support.server import ADMIN_PASSWORD, Api, Server

ARTIFACTS = Path(
    os.environ.get("CRONWRIGHT_UI_ARTIFACTS") or Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
)
ZONE = "Europe/Berlin"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def ui_server(server_factory: StartServer) -> Server:
    return server_factory("sqlite")


@pytest.fixture(scope="session")
def ui_api(ui_server: Server) -> Api:
    return ui_server.client()


@pytest.fixture
def browser() -> Iterator[Any]:
    """Chromium for one test. Not shared across tests: Playwright's sync API keeps an event loop
    running in this thread while it is open, and the next test on the same worker (any module)
    may need ``asyncio.run``."""
    sync_playwright = sync_playwright_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def safe_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text)[:120]


def shot(page: Any, name: str, *, full_page: bool = False) -> Path:
    """Save a screenshot as a test artefact; returns its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{safe_name(name)}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


class Problems(list[str]):
    """Console errors, page errors and CSP violations seen by a page."""

    allowed: list[str]

    def __init__(self) -> None:
        super().__init__()
        self.allowed = []

    def unexpected(self) -> list[str]:
        return [p for p in self if not any(re.search(a, p) for a in self.allowed)]


def open_context(browser: Any, ui_server: Server, *, viewport: dict[str, int] | None = None, dark: bool = False) -> Any:
    return browser.new_context(
        base_url=ui_server.url,
        viewport=viewport or {"width": 1280, "height": 800},
        timezone_id=ZONE,
        locale="en-GB",
        color_scheme="dark" if dark else "light",
    )


def watch(page: Any) -> Problems:
    problems = Problems()
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)
    return problems


def login(context: Any, username: str = "admin", password: str = ADMIN_PASSWORD) -> None:
    """Start a session in the context (the cookie the login form would get)."""
    response = context.request.post("/api/user/login", data={"username": username, "password": password})
    assert response.ok and response.json()["code"] == 0, response.text()


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Any, ui_server: Server) -> Iterator[Any]:
    """A logged-in admin's page at the dashboard; fails the test on console errors."""
    context = open_context(browser, ui_server)
    login(context)
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems = watch(page)
    page.problems = problems
    page.goto("/")
    try:
        yield page
    finally:
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            shot(page, f"FAILED-{request.node.name}", full_page=True)
        context.close()
    unexpected = problems.unexpected()
    assert not unexpected, f"the page reported errors: {unexpected}"


def create_user(server: Server, username: str, password: str, **fields: Any) -> dict[str, Any]:
    """A user made by the admin (the user namespace takes sessions, not API keys)."""
    import httpx

    with httpx.Client(base_url=server.url) as http:
        session = http.post("/api/user/login", json={"username": "admin", "password": ADMIN_PASSWORD}).json()
        body = http.post(
            "/api/user/admin_create",
            json={"username": username, "password": password, **fields},
            headers={"X-Session-ID": session["session_id"]},
        ).json()
    assert body["code"] == 0, body
    return dict(body["user"])
