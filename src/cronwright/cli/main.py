"""The ``cronwright`` command: ``serve`` runs the conductor; ``events``, ``jobs``, ``upcoming``,
``status`` and ``apikey`` talk to a server (cli/events.py, jobs.py, status.py, keys.py; docs/cli.md)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import signal
import socket
import sys
from typing import Any

import click

from cronwright import __version__
from cronwright.config import ConfigError, Settings, load_settings
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
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), help="Server log lines: text (default) or json, on stderr."
)
@click.option(
    "--conductor-id",
    help="This conductor's id among several on one PostgreSQL database (default: host name and port).",
)
@settings_options
def serve(
    host: str | None,
    port: int | None,
    log_format: str | None,
    conductor_id: str | None,
    data_dir: str | None,
    db_url: str | None,
    config_file: str | None,
) -> None:
    """Start the conductor (HTTP API and engine) in the foreground; Ctrl-C or SIGTERM stops it.
    Several conductors share one PostgreSQL database: start each with --db-url (docs/ha.md)."""
    from cronwright.logs import configure_logging

    settings = _load(
        config_file,
        host=host,
        port=port,
        data_dir=data_dir,
        db_url=db_url,
        log_format=log_format,
        conductor_id=conductor_id,
    )
    log_setup = configure_logging(settings)  # docs/observability.md
    # Until uvicorn takes over the signals (and again after it re-raises them on its way out),
    # SIGTERM/SIGINT end the command quietly with status 0.
    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    try:
        with contextlib.suppress(_StopRequested):
            _serve(settings)
    finally:
        log_setup.close()  # writes the lines still queued


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
        log_config=None,  # uvicorn's loggers go through ours (cronwright.logs), in the same format
        log_level=None,  # levels come from log_level / log_levels
        access_log=False,  # its lines would show raw paths and queries; ours (access_log) does not
        server_header=False,
        proxy_headers=False,  # X-Forwarded-* count only from trusted_proxies (api/request.py), never uvicorn's default
        timeout_graceful_shutdown=10,
        http=guarded_protocol(limits),  # header/body/send timeouts, keep-alive, connection cap
        ws="websockets-sansio",  # the agents' socket at ``/`` (docs/fleet.md); every other path refuses an upgrade
        ws_max_size=16 * 1024 * 1024,
        ws_per_message_deflate=False,  # frames are small; a compressor per agent socket costs ~50 KB each
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
    click.echo(f"  Web UI:   {settings.public_url}/ (log in as admin)")
    click.echo(f"  API docs: {settings.public_url}/api/docs")
    click.echo(f"  Try:      curl -H 'X-API-Key: KEY' {settings.public_url}/api/app/get_events/v1")
    sys.stdout.flush()


def _add_client_commands() -> None:
    """The commands that talk to a running server over HTTP (docs/cli.md), and ``apikey``."""
    from cronwright.cli.agent import agent
    from cronwright.cli.events import events
    from cronwright.cli.jobs import jobs
    from cronwright.cli.keys import apikey
    from cronwright.cli.status import status, upcoming

    for command in (events, jobs, upcoming, status, apikey):
        main.add_command(command)
    main.add_command(agent)


_add_client_commands()
