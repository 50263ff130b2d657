"""``cronwright apikey list|create|revoke``.

``create`` works two ways (docs/cli.md):

* **through the API** when a server URL is configured (``--url``, ``CRONWRIGHT_URL`` or cli.toml) and
  none of ``--data-dir``/``--db-url``/``--config`` is given: needs an API key allowed to create keys;
* **on the database directly** otherwise (the server may be running or not; it picks the new key
  up on first use). The database must already exist — made by ``cronwright serve`` — unless
  ``--init`` is given: a key written into a new, empty database would never work against the
  server that uses another one.

``list`` and ``revoke`` always use the API.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable
from typing import Any

import click

from cronwright.cli.client import Client, resolve_config, url_configured
from cronwright.cli.common import CliError, Remote, check_choice, remote_command
from cronwright.cli.output import print_json, print_table, when
from cronwright.config import ConfigError, Settings, load_settings
from cronwright.engine.privileges import PRIVILEGE_TITLES
from cronwright.errors import CwError
from cronwright.store.base import StoreError


@click.group()
def apikey() -> None:
    """Manage API keys."""


@apikey.command("list")
@remote_command
def apikey_list(remote: Remote) -> None:
    """List the API keys (administrators)."""
    body = remote.client.call("get_api_keys")
    if remote.as_json:
        print_json(body)
        return
    print_table(
        ("ID", "Title", "Key", "Active", "Privileges", "Roles", "Created"),
        (
            (
                k.get("id"),
                k.get("title"),
                k.get("mask"),
                "no" if k.get("active") in (False, 0) else "yes",
                ", ".join(p for p, on in (k.get("privileges") or {}).items() if on),
                ", ".join(k.get("roles") or []),
                when(k.get("created")),
            )
            for k in body.get("rows") or []
        ),
        empty="No API keys.",
    )


@apikey.command("revoke")
@click.argument("key_id")
@remote_command
def apikey_revoke(remote: Remote, key_id: str) -> None:
    """Delete an API key: it stops working at once."""
    body = remote.client.call("delete_api_key", {"id": key_id})
    if remote.as_json:
        print_json(body)
    else:
        click.echo(f"Revoked API key {key_id}.")


@apikey.command("create")
@click.option("--title", required=True, help="Name of the key.")
@click.option("--privilege", "privileges", multiple=True, help="Privilege id (repeatable), e.g. admin, run_jobs.")
@click.option("--role", "roles", multiple=True, help="Role id (repeatable).")
@click.option("--category", "categories", multiple=True, help="Limit the key to this category (repeatable).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Write to this data directory's database.")
@click.option("--db-url", help="Write to this database: sqlite:///path or postgresql://user@host/db.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Server TOML config file.")
@click.option("--init", is_flag=True, help="Create the database when it does not exist yet (direct mode).")
@click.option("--url", metavar="URL", help="Create through this server's API.")
@click.option("--api-key", "api_key", metavar="KEY", help="API key for --url.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON answer.")
def apikey_create(
    title: str,
    privileges: tuple[str, ...],
    roles: tuple[str, ...],
    categories: tuple[str, ...],
    data_dir: str | None,
    db_url: str | None,
    config_file: str | None,
    init: bool,
    url: str | None,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Create an API key and print the plain key (shown only once)."""
    for privilege in privileges:
        check_choice("privilege", privilege, PRIVILEGE_TITLES, "--privilege")
    params: dict[str, Any] = {"title": title, "privileges": {p: True for p in privileges}}
    if categories:
        params["categories"] = list(categories)
    direct = bool(data_dir or db_url or config_file) or not url_configured(url)
    if direct:
        if url or api_key:
            raise click.UsageError("--url/--api-key cannot be combined with --data-dir, --db-url or --config.")
        settings = _load(config_file, data_dir=data_dir, db_url=db_url)
        doc, plain = _create_in_database(settings, params, roles, init)
        body: dict[str, Any] = {"code": 0, "api_key": doc, "plain_key": plain}
    else:
        if init:
            raise click.UsageError("--init only applies when writing to a database (--data-dir or --db-url).")
        with Client(resolve_config(url, api_key)) as client:
            if roles:
                _check_roles(roles, _role_ids_from_api(client))
                params["roles"] = list(roles)
            body = client.call("create_api_key", params)
    if as_json:
        print_json(body)
        return
    doc = body["api_key"]
    click.echo(f"Created API key {doc['id']} ({doc['title']}).")
    click.echo(f"Plain key (shown only now): {body['plain_key']}")


def _load(config_file: str | None, **overrides: Any) -> Settings:
    try:
        return load_settings(overrides, config_file=config_file)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _check_roles(roles: Iterable[str], known: Iterable[str] | None) -> None:
    if known is None:
        return  # the list is not readable: the server checks
    known = list(known)
    for role in roles:
        check_choice("role", role, known, "--role")


def _role_ids_from_api(client: Client) -> list[str] | None:
    try:
        rows = client.call("get_roles").get("rows") or []
    except CliError as exc:
        if exc.api_code is None:
            raise
        return None
    return [str(r.get("id")) for r in rows]


def database_exists(settings: Settings) -> bool:
    """Whether the database ``serve`` would use has been installed (``serve`` has run on it)."""
    from sqlalchemy import inspect, select

    from cronwright.engine.datadir import sqlite_file
    from cronwright.store.sql import tables
    from cronwright.store.sql.store import create_sql_engine

    database = sqlite_file(settings.database_url)
    if database is not None and (not database.is_file() or database.stat().st_size == 0):
        return False  # asking SQLite would create the file
    engine = create_sql_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(tables.kv.name):
                return False
            return conn.execute(select(tables.kv.c.key).where(tables.kv.c.key == "install")).first() is not None
    except Exception as exc:  # any driver error: cannot tell, say why
        raise CliError(f"Cannot open the database {_shown_url(settings)}: {exc}") from None
    finally:
        engine.dispose()


def _shown_url(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)


def _create_in_database(
    settings: Settings, params: dict[str, Any], roles: tuple[str, ...], init: bool
) -> tuple[dict[str, Any], str]:
    from cronwright.clock import SystemClock
    from cronwright.engine.activity import Origin
    from cronwright.engine.apikeys import create_api_key
    from cronwright.engine.catalog import Catalog
    from cronwright.engine.datadir import prepare_data_dir
    from cronwright.engine.entities import EntityService
    from cronwright.engine.identity import Identity
    from cronwright.engine.setup import ensure_installed
    from cronwright.store.sql.store import SqlStore

    if not init and not database_exists(settings):
        raise CliError(
            f"No Cronwright database at {_shown_url(settings)}: start `cronwright serve` with this data "
            "directory first, point --data-dir/--db-url at the server's database, create the key through "
            "the API (--url), or add --init to create a new database."
        )
    prepare_data_dir(settings)  # private (0700 directory, 0600 database), as ``serve`` leaves it
    try:
        store = SqlStore.open(settings.database_url)
    except StoreError as exc:
        raise CliError(str(exc)) from None
    try:
        clock = SystemClock()
        ensure_installed(store, clock.now(), dict(os.environ))
        catalog = Catalog(store)
        if roles:
            _check_roles(roles, [str(r["id"]) for r in catalog["roles"].values()])
            params["roles"] = list(roles)
        operator = Identity(kind="user", username=f"cli:{getpass.getuser()}", title="CLI", privileges={"admin": True})
        return create_api_key(EntityService(catalog, clock), params, lambda: operator, Origin.internal())
    except CwError as exc:
        raise CliError(f"{exc.description} ({exc.code})") from None
    finally:
        store.close()
