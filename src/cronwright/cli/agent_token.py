"""``cronwright agent token create``: an install token that enrols servers (docs/fleet.md).

Through the API (``get_satellite_token``; an API key with ``add_servers``). The token is printed once,
with the command to run on each new server.
"""

from __future__ import annotations

from typing import Any

import click

from cronwright.cli.common import Remote, remote_command
from cronwright.cli.output import print_json, print_table, when


@click.group("token")
def agent_token() -> None:
    """Install tokens that enrol servers."""


@agent_token.command("create")
@click.option("--expires", type=click.IntRange(60, 366 * 86400), default=86400, show_default=True, help="Seconds.")
@click.option("--title", help="Title of the servers it enrols.")
@click.option("--group", "groups", multiple=True, help="Put the servers in this group (repeatable).")
@click.option("--disabled", is_flag=True, help="Enrol the servers disabled (no jobs until enabled).")
@remote_command
def agent_token_create(
    remote: Remote, expires: int, title: str | None, groups: tuple[str, ...], disabled: bool
) -> None:
    """Create an install token (reusable until it expires) and print it once."""
    params: dict[str, Any] = {"expires": expires}
    if title:
        params["title"] = title
    if groups:
        params["groups"] = list(groups)
    if disabled:
        params["enabled"] = False
    body = remote.client.call("get_satellite_token", params)
    if remote.as_json:
        print_json(body)
        return
    click.echo(f"Install token (shown only now; valid for {expires} s): {body['token']}")
    click.echo("On each new server:")
    click.echo(f"  pip install cronwright && cronwright agent --conductor {body['base_url']} --token {body['token']}")


@agent_token.command("list")
@remote_command
def agent_token_list(remote: Remote) -> None:
    """List the live install tokens (by id; the tokens themselves are never shown again)."""
    body = remote.client.call("get_satellite_tokens")
    if remote.as_json:
        print_json(body)
        return
    print_table(
        ("ID", "Created by", "Created", "Expires", "Metadata"),
        (
            (r.get("id"), r.get("username"), when(r.get("created")), when(r.get("expires")), print_params(r))
            for r in body.get("rows") or []
        ),
        empty="No live install tokens.",
    )


@agent_token.command("revoke")
@click.argument("token_id")
@remote_command
def agent_token_revoke(remote: Remote, token_id: str) -> None:
    """Revoke an install token by its id: it enrols no more servers."""
    body = remote.client.call("delete_satellite_token", {"id": token_id})
    if remote.as_json:
        print_json(body)
    else:
        click.echo(f"Revoked install token {token_id}.")


def print_params(row: dict[str, Any]) -> str:
    params = row.get("params") or {}
    return ", ".join(f"{k}={v}" for k, v in params.items()) if isinstance(params, dict) else ""
