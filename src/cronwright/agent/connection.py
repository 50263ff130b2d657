"""The agent's one WebSocket to a conductor (servers-agents.md §5): connect, handshake, serve the
conductor's commands, and reconnect with exponential backoff and full jitter.

    hello {id, hostname, info, ...initial} → hello {nonce, id} → join {token} → joined {...}

``auth_failure`` at any step raises ``AuthFailure`` (the agent exits, never retries). A ``redirect``
sends the next attempt to the named host once; ``retry`` just ends the attempt. After the join the
conductor's ``echo`` is answered with ``echoback``; no ``echo`` for 60 s ends the connection.

Hosts: the ``--conductor`` URLs, then the conductors the last ``joined``/``masterData`` advertised,
tried in turn. Delay before the next attempt: uniform in ``[0, min(30, 2**failures))`` seconds,
``failures`` reset by a successful join.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from cronwright.agent import protocol
from cronwright.agent.config import AgentConfig, save_config
from cronwright.agent.jobs import JobManager, SessionLost
from cronwright.agent.plugins import PluginCache
from cronwright.agent.reports import MONITOR_INTERVAL_S, monitor_loop, report_loop
from cronwright.agent.sysinfo import MinuteSampler, host_info
from cronwright.agent.transfer import Credential

log = logging.getLogger(__name__)

#: the largest frame accepted from a conductor (``joined`` carries every plugin's script)
MAX_FRAME_BYTES = 64 * 1024 * 1024


class AuthFailure(Exception):
    """The conductor refused this agent's credential (``auth_failure {description}``)."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def backoff_cap_s(failures: int) -> float:
    """The longest delay after ``failures`` attempts in a row that did not join: 1, 2, 4, … 30 s."""
    return min(protocol.RECONNECT_MAX_S, protocol.RECONNECT_MIN_S * 2 ** min(max(failures - 1, 0), 16))


def next_delay_s(failures: int, rng: random.Random) -> float:
    """Full jitter: uniform in ``[0, backoff_cap_s(failures)]``."""
    return rng.uniform(0.0, backoff_cap_s(failures))


def base_url_of(entry: str, like: str) -> str:
    """A conductor's base URL from a ``--conductor`` URL or an advertised host (``host:port`` or a
    URL); a bare host takes the scheme (and, without a port, the port) of ``like``."""
    entry = entry.strip().rstrip("/")
    if "://" in entry:
        return entry
    reference = urlsplit(like)
    netloc = entry if ":" in entry or reference.port is None else f"{entry}:{reference.port}"
    return f"{reference.scheme or 'http'}://{netloc}"


def ws_url(base_url: str) -> str:
    """``ws://HOST:PORT/`` for an ``http`` base URL, ``wss://`` for ``https``."""
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/", "", ""))


class _Session:
    """The job side's view of a joined socket (``jobs.Session``)."""

    def __init__(self, ws: ClientConnection, base_url: str) -> None:
        self._ws = ws
        self.base_url = base_url
        self.host = urlsplit(base_url).netloc

    async def send(self, cmd: str, data: dict[str, Any]) -> None:
        try:
            await self._ws.send(protocol.encode(cmd, data))
        except ConnectionClosed:
            raise SessionLost from None

    async def confirm(self) -> None:
        try:
            pong = await self._ws.ping()
            await pong
        except ConnectionClosed:
            raise SessionLost from None


class Connector:
    """Keeps the agent connected to one of its conductors."""

    def __init__(
        self,
        *,
        config: AgentConfig,
        data_dir: Path,
        conductors: list[str],
        hostname: str,
        manager: JobManager,
        plugins: PluginCache,
        on_uninstall: Callable[[], None],
        echo_timeout_s: float = protocol.AGENT_PING_TIMEOUT_S,
        monitor_interval_s: float = MONITOR_INTERVAL_S,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.data_dir = data_dir
        self.conductors = [c.rstrip("/") for c in conductors]
        self.hostname = hostname
        self.manager = manager
        self.plugins = plugins
        self.on_uninstall = on_uninstall
        self.echo_timeout_s = echo_timeout_s
        self.monitor_interval_s = monitor_interval_s
        self._sampler = MinuteSampler()
        self._rng = rng or random.Random()
        self._redirect: str | None = None
        self._joined = False

    def candidates(self) -> list[str]:
        like = self.conductors[0] if self.conductors else "http://localhost"
        urls = [*self.conductors, *(base_url_of(h, like) for h in self.config.hosts)]
        return list(dict.fromkeys(urls))

    async def run(self) -> None:
        """Connect and reconnect until cancelled; raises ``AuthFailure``."""
        failures = 0
        turn = 0
        while True:
            if self._redirect is not None:
                url, self._redirect = self._redirect, None
            else:
                urls = self.candidates()
                url = urls[turn % len(urls)]
                turn += 1
            if await self._attempt(url):
                failures = 0
            failures += 1
            delay = next_delay_s(failures, self._rng)
            log.info(
                "reconnecting in %.2f s (attempt %d, backoff up to %g s)", delay, failures, backoff_cap_s(failures)
            )
            await asyncio.sleep(delay)

    async def _attempt(self, url: str) -> bool:
        """One connection; True when it joined."""
        self._joined = False
        log.info("connecting to %s", url)
        try:
            async with connect(
                ws_url(url),
                open_timeout=protocol.CONNECT_TIMEOUT_S,
                ping_interval=None,  # the conductor's echo is the keep-alive
                close_timeout=2,
                max_size=MAX_FRAME_BYTES,
                proxy=None,
            ) as ws:
                await self._converse(ws, url)
        except (OSError, TimeoutError, WebSocketException) as exc:
            reason = str(exc) or type(exc).__name__
            if self._joined:
                log.warning("connection to %s lost: %s", url, reason)
            else:
                log.warning("cannot connect to %s: %s", url, reason)
        return self._joined

    async def _receive(self, ws: ClientConnection, timeout_s: float) -> tuple[str, dict[str, Any]]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            text = await asyncio.wait_for(ws.recv(), max(0.0, deadline - loop.time()))
            frame = protocol.decode(text)
            if frame is not None:
                return frame

    async def _handshake(self, ws: ClientConnection, url: str) -> dict[str, Any] | None:
        """``joined`` data, or None when the conductor redirected or asked to retry."""
        config = self.config
        hello = {**config.initial, "id": config.server_id, "hostname": self.hostname, "info": host_info(self.hostname)}
        await ws.send(protocol.encode(protocol.HELLO, hello))
        expected = protocol.HELLO
        while True:
            cmd, data = await self._receive(ws, protocol.AUTH_TIMEOUT_S)
            if cmd == protocol.AUTH_FAILURE:
                raise AuthFailure(str(data.get("description") or "Authentication failure."))
            if expected == protocol.HELLO:
                if cmd == protocol.REDIRECT and isinstance(data.get("host"), str):
                    self._redirect = _redirected(url, data["host"])
                    log.info("conductor %s redirects to %s", url, self._redirect)
                    return None
                if cmd == protocol.RETRY:
                    log.info("conductor %s asks to retry later", url)
                    return None
                if cmd == protocol.HELLO:
                    await ws.send(protocol.encode(protocol.JOIN, {"token": config.auth_token}))
                    expected = protocol.JOINED
            elif cmd == protocol.JOINED:
                return data

    async def _converse(self, ws: ClientConnection, url: str) -> None:
        joined = await self._handshake(ws, url)
        if joined is None:
            return
        self._joined = True
        self._on_joined(joined)
        log.info("joined conductor %s as server %s (%s)", url, self.config.server_id, self.hostname)
        session = _Session(ws, url)
        self.manager.attach(session)
        loop = asyncio.get_running_loop()
        reporter = loop.create_task(report_loop(self.manager, session))
        monitor = loop.create_task(
            monitor_loop(
                session,
                self._sampler,
                server_id=self.config.server_id,
                hostname=self.hostname,
                interval_s=self.monitor_interval_s,
            )
        )
        try:
            await self._serve(ws, url)
        finally:
            self.manager.detach(session)
            reporter.cancel()
            monitor.cancel()
            await asyncio.gather(reporter, monitor, return_exceptions=True)

    async def _serve(self, ws: ClientConnection, url: str) -> None:
        loop = asyncio.get_running_loop()
        last_echo = loop.time()
        while True:
            remaining = last_echo + self.echo_timeout_s - loop.time()
            if remaining <= 0:
                log.warning("no echo from %s for %g s: reconnecting", url, self.echo_timeout_s)
                return
            try:
                text = await asyncio.wait_for(ws.recv(), remaining)
            except TimeoutError:
                continue
            frame = protocol.decode(text)
            if frame is None:
                continue
            cmd, data = frame
            if cmd == protocol.ECHO:
                last_echo = loop.time()
                await ws.send(protocol.encode(protocol.ECHOBACK, data))
            else:
                self._dispatch(cmd, data)

    def _on_joined(self, data: dict[str, Any]) -> None:
        settings = data.get("config")
        self.manager.settings = dict(settings) if isinstance(settings, dict) else {}
        self.plugins.replace(data.get("plugins"))
        changed = bool(self.config.initial)
        self.config.initial = {}  # install metadata goes with the first successful join only
        masters = (data.get("masterData") or {}).get("masters") if isinstance(data.get("masterData"), dict) else None
        changed = self._set_hosts(masters) or changed
        if changed:
            self._save()

    def _dispatch(self, cmd: str, data: dict[str, Any]) -> None:
        if cmd == protocol.LAUNCH_JOB:
            self.manager.launch(data.get("job"), data.get("details"))
        elif cmd == protocol.ABORT_JOB:
            self.manager.abort(data.get("id"), data.get("reason"))
        elif cmd == protocol.UPDATE:
            if "plugins" in data:
                self.plugins.replace(data["plugins"])
        elif cmd == protocol.MASTER_DATA:
            if self._set_hosts(data.get("masters")):
                self._save()
        elif cmd == protocol.UPDATE_CONFIG:
            self._update_config(data)
        elif cmd == protocol.UNINSTALL:
            log.warning("the conductor removed this server: stopping and deleting the credential")
            (self.data_dir / "agent.json").unlink(missing_ok=True)
            self.on_uninstall()
        else:
            log.debug("ignored command from the conductor: %s", cmd)

    def _set_hosts(self, masters: Any) -> bool:
        if not isinstance(masters, list):
            return False
        hosts = [str(m) for m in masters if isinstance(m, str) and m]
        if hosts == self.config.hosts:
            return False
        self.config.hosts = hosts
        log.info("conductors advertised: %s", ", ".join(hosts) or "(none)")
        return True

    def _update_config(self, data: dict[str, Any]) -> None:
        token = data.get("auth_token")
        if isinstance(token, str) and token:
            self.config.auth_token = token
            self.manager.credential = Credential(self.config.server_id, token)
        for key, value in data.items():
            if key not in ("auth_token", "server_id"):
                self.config.extra[key] = value
                self.manager.settings[key] = value
        log.info("configuration updated by the conductor: %s", ", ".join(sorted(data)) or "(nothing)")
        self._save()

    def _save(self) -> None:
        try:
            save_config(self.data_dir, self.config)
        except OSError as exc:
            log.warning("agent.json not saved: %s", exc)


def _redirected(url: str, host: str) -> str:
    """``host`` on the port and scheme of ``url`` (servers-agents.md §5.4)."""
    if "://" in host:
        return host.rstrip("/")
    parts = urlsplit(url)
    netloc = host if parts.port is None or ":" in host else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
