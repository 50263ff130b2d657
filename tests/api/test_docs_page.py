"""`/api/docs` really renders the OpenAPI 3.1 document: headless Chromium loads the page.

Uses Debian's ``chromium`` (``/usr/bin/chromium``) driven by Playwright, which cannot download its
own browsers here. Without either the test is skipped, except under CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import tomllib
from pathlib import Path, PurePosixPath

import pytest

import cronwright.api
from tests.conftest import StartServer
from tests.support.browser import CHROMIUM, sync_playwright_or_skip

#: left behind for a human to look at
SCREENSHOT = Path("/tmp/cronwright-api-docs.png")


@pytest.mark.slow
def test_docs_page_renders_operations(server_factory: StartServer) -> None:
    """Swagger UI shows the operations of the 3.1 document (not "Unable to render this definition"),
    with no page error and no Content-Security-Policy violation."""
    sync_playwright = sync_playwright_or_skip("render /api/docs")
    server = server_factory("sqlite")
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
            page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            response = page.goto(server.url + "/api/docs")
            assert response is not None and response.status == 200
            # every operation is a block whose operation id (shown with displayOperationId) is text
            page.locator(".opblock").first.wait_for(timeout=30_000)
            text = page.inner_text("#ui")
            # Swagger UI 5 keeps only the operations near the viewport in a large document: scroll
            # through the whole page and collect every operation it shows on the way
            seen: set[str] = set()
            for _ in range(400):
                seen.update(page.locator(".opblock-summary").all_inner_texts())
                at_bottom = page.evaluate("window.scrollY + window.innerHeight >= document.body.scrollHeight - 2")
                if at_bottom:
                    break
                page.mouse.wheel(0, 1000)
                page.wait_for_timeout(50)
            page.evaluate("window.scrollTo(0, 0)")
            page.locator(".opblock-summary", has_text="/api/app/create_event/v1").first.wait_for(timeout=30_000)
            # an operation opens with its request body schema (3.1 schemas with $ref resolved)
            page.locator(".opblock-summary", has_text="/api/app/create_event/v1").click()
            body = page.locator(".opblock-body").first
            body.locator(".model-example").first.wait_for(timeout=30_000)
            details = body.inner_text()
            page.screenshot(path=str(SCREENSHOT), full_page=False)
        finally:
            browser.close()
    assert "Unable to render this definition" not in text
    shown = "\n".join(seen)
    for operation in ("get_events", "get_event", "create_event", "run_event", "get_job", "get_conductors"):
        assert f"/api/app/{operation}/v1" in shown, operation
    assert "get_events_post" in shown  # the operation ids
    assert "OAS 3.1" in text  # Swagger UI recognised the version
    assert "Request body" in details and "targets" in details and "Responses" in details
    assert problems == []


def test_viewer_files_ship_with_the_package() -> None:
    """Every file the docs page serves is package data, so a plain `pip install .` ships it."""
    root = Path(__file__).resolve().parents[2]
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["cronwright.api"]
    package = Path(cronwright.api.__file__).parent
    files = [p.relative_to(package).as_posix() for p in (package / "static").rglob("*") if p.is_file()]
    assert {"static/docs.js", "static/swagger-ui/swagger-ui-bundle.js", "static/swagger-ui/LICENSE"} <= set(files)
    assert [f for f in files if not any(PurePosixPath(f).match(g) for g in globs)] == []  # glob: * stays in a directory
