"""The ``cronwright`` command: ``serve`` runs the conductor; ``apikey create`` makes API keys."""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import logging
import os
import signal
import socket
import sys
from typing import Any

import click

from cronwright import __version__
from cronwright.config import ConfigError, Settings, load_settings
from cronwright.errors import CwError
from cronwright.store.base import StoreError

_settings_options = [
    click.option("--data-dir", type=click.Path(file_okay=False), help="Data directory (default ./data)."),
    click.option("--db-url", help="Database URL: sqlite:///path or postgresql://user@host/db."),
    click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML config file."),
]


def settings_options(func: Any) -> Any:
    for option in reversed(_settings_options):
        func = option(func)
    return func


def _load(config_file: str | None, **overrides: Any) -> Settings:
    try:
        return load_settings(overrides, config_file=config_file)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
@click.version_option(__version__, prog_name="cronwright")
def main() -> None:
    """Cronwright: a self-hosted job scheduler speaking the xyOps Events API."""


@main.command()
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 5522; 0 picks a free port).")
@settings_options
def serve(
    host: str | None, port: int | None, data_dir: str | None, db_url: str | None, config_file: str | None
) -> None:
    """Start the conductor (HTTP API and engine) in the foreground; Ctrl-C or SIGTERM stops it."""
    settings = _load(config_file, host=host, port=port, data_dir=data_dir, db_url=db_url)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Until uvicorn takes over the signals (and again after it re-raises them on its way out),
    # SIGTERM/SIGINT end the command quietly with status 0.
    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    with contextlib.suppress(_StopRequested):
        _serve(settings)


class _StopRequested(Exception):
    """SIGTERM or SIGINT arrived outside uvicorn's own handling."""


def _request_stop(signum: int, frame: Any) -> None:
    raise _StopRequested


def _serve(settings: Settings) -> None:
    import uvicorn

    from cronwright.api.app import create_app
    from cronwright.api.server import HttpLimits, connection_budget, guarded_protocol, raise_open_files_limit
    from cronwright.engine.conductor import Conductor

    open_files = raise_open_files_limit()
    max_connections = connection_budget(settings.http_max_connections, open_files)
    if max_connections < settings.http_max_connections:
        logging.getLogger("cronwright").warning(
            "http_max_connections lowered from %d to %d: the open files limit is %d and a quarter stays for jobs",
            settings.http_max_connections,
            max_connections,
            open_files,
        )
    limits = HttpLimits(
        header_timeout_s=settings.http_header_timeout_s,
        body_timeout_s=settings.http_body_timeout_s,
        send_timeout_s=settings.http_send_timeout_s,
        keepalive_timeout_s=settings.http_keepalive_timeout_s,
        max_connections=max_connections,
    )
    try:
        sock = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((settings.host, settings.port))
        sock.listen(2048)  # connections queue from now on, before the app has started
    except OSError as exc:
        raise click.ClickException(f"Cannot listen on {settings.host}:{settings.port}: {exc}") from None
    settings = dataclasses.replace(settings, port=sock.getsockname()[1])
    try:
        conductor = Conductor.open(settings)
    except (StoreError, OSError, ConfigError) as exc:
        sock.close()
        raise click.ClickException(str(exc)) from None
    config = uvicorn.Config(
        create_app(settings, conductor, on_ready=lambda: _announce(settings, conductor)),
        log_level=settings.log_level,
        access_log=False,
        server_header=False,
        proxy_headers=False,  # X-Forwarded-* count only from trusted_proxies (api/request.py), never uvicorn's default
        timeout_graceful_shutdown=10,
        http=guarded_protocol(limits),  # header/body/send timeouts, keep-alive, connection cap
        ws="none",  # no WebSocket endpoints: upgrade requests are ordinary (refused) requests
    )
    uvicorn.Server(config).run(sockets=[sock])


def _announce(settings: Settings, conductor: Any) -> None:
    first = conductor.first_start
    if first is not None:
        click.echo("First start: created the default records and the administrator.")
        if first.admin_key:
            click.echo(f"  Admin API key (shown only now, store it safely): {first.admin_key}")
        else:
            click.echo("  Admin API key: the value of CRONWRIGHT_ADMIN_KEY")
        if first.admin_password:
            click.echo(f"  User 'admin' password (shown only now): {first.admin_password}")
        else:
            click.echo("  User 'admin' password: the value of CRONWRIGHT_ADMIN_PASSWORD")
    click.echo(f"Data: {settings.data_dir.resolve()} ({conductor.store.dialect})")
    click.echo(f"Cronwright {__version__} is listening on {settings.public_url}")
    click.echo(f"  API docs: {settings.public_url}/api/docs")
    click.echo(f"  Try:      curl -H 'X-API-Key: KEY' {settings.public_url}/api/app/get_events/v1")
    sys.stdout.flush()


@main.group()
def apikey() -> None:
    """Manage API keys."""


@apikey.command("create")
@click.option("--title", required=True, help="Name of the key.")
@click.option("--privilege", "privileges", multiple=True, help="Privilege id (repeatable), e.g. admin, run_jobs.")
@click.option("--role", "roles", multiple=True, help="Role id (repeatable).")
@settings_options
def apikey_create(
    title: str,
    privileges: tuple[str, ...],
    roles: tuple[str, ...],
    data_dir: str | None,
    db_url: str | None,
    config_file: str | None,
) -> None:
    """Create an API key and print the plain key (shown only once)."""
    from cronwright.clock import SystemClock
    from cronwright.engine.activity import Origin
    from cronwright.engine.apikeys import create_api_key
    from cronwright.engine.catalog import Catalog
    from cronwright.engine.datadir import prepare_data_dir
    from cronwright.engine.entities import EntityService
    from cronwright.engine.identity import Identity
    from cronwright.engine.setup import ensure_installed
    from cronwright.store.sql.store import SqlStore

    settings = _load(config_file, data_dir=data_dir, db_url=db_url)
    prepare_data_dir(settings)  # private (0700 directory, 0600 database), as ``serve`` leaves it
    try:
        store = SqlStore.open(settings.database_url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        clock = SystemClock()
        ensure_installed(store, clock.now(), dict(os.environ))
        catalog = Catalog(store)
        operator = Identity(kind="user", username=f"cli:{getpass.getuser()}", title="CLI", privileges={"admin": True})
        params: dict[str, Any] = {"title": title, "privileges": {p: True for p in privileges}}
        if roles:
            params["roles"] = list(roles)
        doc, plain = create_api_key(EntityService(catalog, clock), params, lambda: operator, Origin.internal())
    except CwError as exc:
        raise click.ClickException(exc.description) from None
    finally:
        store.close()
    click.echo(f"Created API key {doc['id']} ({doc['title']}).")
    click.echo(f"Plain key (shown only now): {plain}")
