"""Fixtures for the runner tests: every test using ``harness`` runs under the default asyncio loop
and under uvloop, each time in a fresh job directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runner.helpers import Harness


@pytest.fixture(params=["asyncio", "uvloop"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    """A harness on a fresh job directory, once per event loop."""
    cwd = tmp_path / "job"
    cwd.mkdir()
    return Harness(request.param, cwd)
