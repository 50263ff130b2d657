"""Debian's Chromium driven by Playwright (which cannot download its own browsers here): the
sync API, or skip the test (fail it under CI, where the browser must be present)."""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def sync_playwright_or_skip(what: str = "the browser tests") -> Any:
    """Playwright's ``sync_playwright``; skips (fails under ``CI``) when it or Chromium is missing."""
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "the playwright package is not installed (pip install -e '.[test]')"
    if missing is None and not os.access(CHROMIUM, os.X_OK):
        missing = f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run {what}, but {missing}")
        pytest.skip(missing)
    return sync_playwright
