"""``cronwright agent``: the remote worker that connects out to a conductor (docs/fleet.md);
``cronwright agent token create`` makes the install token it enrols with (cli/agent_token.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cronwright.cli.agent_token import agent_token


@click.group(invoke_without_command=True)
@click.option(
    "--conductor",
    "conductors",
    multiple=True,
    metavar="URL",
    help="Base URL of a conductor (http:// or https://); repeat for several.",
)
@click.option(
    "--token",
    envvar="CRONWRIGHT_AGENT_TOKEN",
    metavar="TOKEN",
    help="Install token, used once to enrol when the data directory holds no agent.json.",
)
@click.option("--hostname", metavar="NAME", help="Host name to report (default: this machine's).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Agent data directory (default /var/lib/cronwright/agent as root, else ~/.cronwright/agent).",
)
@click.option(
    "--spool-max-mb",
    type=click.FloatRange(min=1),
    default=64,
    show_default=True,
    help="Most log kept on disk per job while disconnected.",
)
@click.pass_context
def agent(
    ctx: click.Context,
    conductors: tuple[str, ...],
    token: str | None,
    hostname: str | None,
    data_dir: Path | None,
    spool_max_mb: float,
) -> None:
    """Connect to a conductor and run the jobs it sends (exit 2 when it refuses this server).

    `cronwright agent token create` makes the install token (see its --help)."""
    if ctx.invoked_subcommand is not None:
        return
    if not conductors:
        raise click.UsageError("Missing option '--conductor'.")
    from cronwright.agent.config import default_data_dir
    from cronwright.agent.main import AgentOptions, run_agent

    options = AgentOptions(
        conductors=list(conductors),
        data_dir=data_dir or default_data_dir(),
        token=token,
        hostname=hostname,
        spool_max_bytes=int(spool_max_mb * 1024 * 1024),
    )
    sys.exit(run_agent(options))


agent.add_command(agent_token)
