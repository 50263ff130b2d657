"""The ``store`` fixture: every store the contract suite runs against.

SQLite always, PostgreSQL when reachable (``tests.conftest.require_backend``) and the in-process
``MemoryStore``, each fresh and empty per test. A test that needs a database itself (a migration)
opens its own ``SqlStore`` instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cronwright.store.base import Store
from cronwright.store.memory import MemoryStore
from cronwright.store.sql.store import SqlStore
from tests.conftest import BACKENDS, require_backend
from tests.support.server import temporary_pg_database

STORES = (*BACKENDS, "memory")


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh, empty store of each kind."""
    opened: Store
    if request.param == "memory":
        opened = MemoryStore.open("memory://")
        yield opened
        opened.close()
        return
    require_backend(request.param)
    if request.param == "sqlite":
        opened = SqlStore.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
        yield opened
        opened.close()
    else:
        with temporary_pg_database() as url:
            opened = SqlStore.open(url)
            yield opened
            opened.close()
