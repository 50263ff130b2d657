"""Shared fixtures: real servers on SQLite and (when reachable, always in CI) PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from hypothesis import settings

from cronwright.store.sql.store import SqlStore
from tests.support.server import Api, Server, postgres_available, temporary_pg_database

# CI replays the same property-test examples every run (reproducible); local runs explore new ones
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

#: "require" (set by .ci/run): fail instead of skipping the PostgreSQL pass when it is unreachable
PG_MODE = os.environ.get("CRONWRIGHT_TEST_PG", "auto")
BACKENDS = ("sqlite", "postgresql")


def require_backend(backend: str) -> None:
    if backend == "postgresql" and not postgres_available():
        if PG_MODE == "require":
            pytest.fail("PostgreSQL is required (CRONWRIGHT_TEST_PG=require) but not reachable")
        pytest.skip("PostgreSQL is not reachable")


StartServer = Callable[..., Server]


@pytest.fixture(scope="session")
def server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartServer]:
    """Starts servers on demand (``backend``, extra ``env``); stops them all at the end."""
    with ExitStack() as stack:

        def start(backend: str = "sqlite", env: dict[str, str] | None = None, data_dir: Path | None = None) -> Server:
            require_backend(backend)
            db_url = stack.enter_context(temporary_pg_database()) if backend == "postgresql" else None
            server = Server(data_dir or tmp_path_factory.mktemp("data"), db_url, env)
            stack.callback(server.stop)
            return server.start()

        yield start


@pytest.fixture(scope="session", params=BACKENDS)
def server(request: pytest.FixtureRequest, server_factory: StartServer) -> Server:
    """One shared server per backend; tests must use unique ids and not rely on global counts."""
    return server_factory(request.param)


@pytest.fixture(scope="session")
def api(server: Server) -> Api:
    """An admin client of the shared server."""
    return server.client()


@pytest.fixture(scope="session")
def server_url(server: Server) -> str:
    return server.url


@pytest.fixture
def server_store(server: Server) -> Iterator[SqlStore]:
    """Direct access to the shared server's database (to plant job rows the job engine will write)."""
    store = SqlStore.open(server.database_url)
    yield store
    store.close()
