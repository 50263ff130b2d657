"""One SQLite server for the CLI tests, and a way to run the CLI against it."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.helpers import cli_env, run_cli
from tests.conftest import StartServer
from tests.support.server import Api, Server

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="package")
def cli_server(server_factory: StartServer) -> Server:
    return server_factory("sqlite")


@pytest.fixture
def admin(cli_server: Server) -> Api:
    return cli_server.client()


@pytest.fixture
def cli_env_vars(cli_server: Server, tmp_path: Path) -> dict[str, str]:
    """The environment of a CLI run: the server's URL and the admin key, no user settings."""
    return cli_env(tmp_path / "config", url=cli_server.url)


@pytest.fixture
def cli(cli_env_vars: dict[str, str]) -> Cli:
    """Runs the CLI with the server's URL and the admin key in the environment."""
    env = cli_env_vars

    def run(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, env=env, **kwargs)

    return run
