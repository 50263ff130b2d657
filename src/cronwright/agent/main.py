"""``cronwright agent``: enrol (once), then stay connected to a conductor and run its jobs until
SIGTERM/SIGINT (fleet.md "The agent program").

Exit status: 0 after a stop signal (every job aborted with "Server is shutting down." and reported
while connected, waiting at most ``shutdown_wait_s``), 1 when enrolment is impossible, 2 when the
conductor refused the credential (``auth_failure``; its description is printed).

``CRONWRIGHT_AGENT_MONITOR_INTERVAL_S`` (seconds, > 0) shortens the ``monitor`` sample interval
(default ``reports.MONITOR_INTERVAL_S``, 60 s): for tests, never needed in production.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import signal
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from cronwright.agent.config import AgentConfig, EnrollError, enroll, load_config, save_config
from cronwright.agent.connection import AuthFailure, Connector
from cronwright.agent.jobs import SHUTDOWN_REASON, JobManager
from cronwright.agent.plugins import PluginCache
from cronwright.agent.protocol import normalize_hostname
from cronwright.agent.reports import MONITOR_INTERVAL_S, spool_loop
from cronwright.agent.spool import DEFAULT_MAX_BYTES
from cronwright.agent.transfer import Credential

log = logging.getLogger("cronwright.agent")

EXIT_OK = 0
EXIT_SETUP = 1
EXIT_AUTH = 2

MONITOR_INTERVAL_ENV = "CRONWRIGHT_AGENT_MONITOR_INTERVAL_S"


@dataclass(frozen=True)
class AgentOptions:
    conductors: list[str]
    data_dir: Path
    token: str | None = None
    hostname: str | None = None
    spool_max_bytes: int = DEFAULT_MAX_BYTES
    #: how long a stop waits for the aborted jobs to be reported
    shutdown_wait_s: float = 60.0
    #: how often a ``monitor`` sample is sent; None: ``$CRONWRIGHT_AGENT_MONITOR_INTERVAL_S`` or 60 s
    monitor_interval_s: float | None = None


def monitor_interval_from(environ: Mapping[str, str]) -> float:
    """The ``monitor`` interval: ``CRONWRIGHT_AGENT_MONITOR_INTERVAL_S`` when it is a positive
    number, else ``MONITOR_INTERVAL_S``."""
    try:
        value = float(environ.get(MONITOR_INTERVAL_ENV, ""))
    except ValueError:
        return MONITOR_INTERVAL_S
    return value if math.isfinite(value) and value > 0 else MONITOR_INTERVAL_S


def _configure_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    logging.getLogger("websockets").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines would show the install token


def obtain_config(options: AgentOptions) -> AgentConfig:
    """The saved credential, or a new one from the first conductor that accepts the install token."""
    config = load_config(options.data_dir)
    if config is not None:
        return config
    if not options.token:
        raise EnrollError(f"no agent.json in {options.data_dir}: pass --token with an install token")
    errors = []
    for url in options.conductors:
        try:
            config = enroll(url, options.token)
        except EnrollError as exc:
            errors.append(str(exc))
            continue
        if not config.hosts:
            config.hosts = [url]
        save_config(options.data_dir, config)
        log.info("enrolled as server %s with %s", config.server_id, url)
        return config
    raise EnrollError("; ".join(errors) or "no conductor given")


def run_agent(options: AgentOptions) -> int:
    """Run the agent in the foreground; the exit status."""
    _configure_logging()
    if not options.conductors:
        print("cronwright agent: at least one --conductor URL is needed", file=sys.stderr)
        return EXIT_SETUP
    try:
        options.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        config = obtain_config(options)
    except (EnrollError, OSError) as exc:
        print(f"cronwright agent: enrolment failed: {exc}", file=sys.stderr)
        return EXIT_SETUP
    try:
        return asyncio.run(_serve(options, config))
    except AuthFailure as exc:
        print(f"cronwright agent: the conductor refused this server: {exc.description}", file=sys.stderr)
        return EXIT_AUTH


async def _serve(options: AgentOptions, config: AgentConfig) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    uninstalled = asyncio.Event()

    def removed() -> None:
        uninstalled.set()
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    hostname = normalize_hostname(options.hostname or socket.gethostname()) or "localhost"
    async with httpx.AsyncClient(follow_redirects=True) as client:
        plugins = PluginCache(options.data_dir / "plugins")
        manager = JobManager(
            options.data_dir,
            Credential(config.server_id, config.auth_token),
            plugins,
            client,
            spool_max_bytes=options.spool_max_bytes,
        )
        connector = Connector(
            config=config,
            data_dir=options.data_dir,
            conductors=options.conductors,
            hostname=hostname,
            manager=manager,
            plugins=plugins,
            on_uninstall=removed,
            monitor_interval_s=options.monitor_interval_s or monitor_interval_from(os.environ),
        )
        connecting = loop.create_task(connector.run(), name="agent-connection")
        spooling = loop.create_task(spool_loop(manager), name="agent-spool")
        stopping = loop.create_task(stop.wait(), name="agent-stop")
        try:
            await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if connecting.done():
                connecting.result()  # AuthFailure: the caller prints it
            log.info("stopping: aborting %d job(s)", len(manager.jobs))
            manager.abort_all(SHUTDOWN_REASON)
            if uninstalled.is_set():  # the credential is gone: nothing can be reported any more
                log.info("removed by the conductor: its jobs were ended there")
            elif not await manager.wait_idle(options.shutdown_wait_s):
                log.warning("stopping with %d job(s) not reported to a conductor", len(manager.jobs))
        finally:
            for task in (connecting, spooling, stopping):
                task.cancel()
            await asyncio.gather(connecting, spooling, stopping, return_exceptions=True)
            await manager.close()
    log.info("stopped")
    return EXIT_OK
