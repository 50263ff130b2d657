"""The agents' sockets on this conductor (servers-agents.md §5, §6, §8.1; docs/fleet.md).

An agent connects to ``/`` over a WebSocket and says ``hello``; the hub answers a nonce, checks the
``join`` token (the server's token, ``sha256_hex(id + secret_key)``, or the xySat secret-key answer
``sha256_hex(nonce + secret_key)``), refuses revoked and duplicate servers, registers the server
(``ServerRegistry.connect_agent``) and answers ``joined`` with the conductors, the server's groups and
the event plugins. From then on it pings every 5 s, dispatches jobs (``launch_job``, ``abort_job``),
and feeds the agent's reports to the job engine through the same ``JobReports`` the local worker
uses: ``jobs`` (progress, cpu/mem, the heartbeat that keeps a job from the dead-job rule),
``job_log`` (appended once, by ``offset``), ``job_meta``; the final report ends the job's run.

Trust: an agent acts only for the jobs assigned to its server; a report about any other job is
ignored. Its reports get the same screening as a plugin's output. No token is ever logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from cronwright.agent import protocol as p
from cronwright.engine import activity
from cronwright.engine.fleet.remote import RemoteRun, RemoteWorker, result_of
from cronwright.engine.jobs.recovery import adopt
from cronwright.engine.throttle import HitLimiter
from cronwright.errors import CwError
from cronwright.ids import generate_id
from cronwright.logs import fields
from cronwright.store.base import StoreError

if TYPE_CHECKING:
    from cronwright.engine.jobs.engine import JobEngine
    from cronwright.engine.servers import ServerRegistry
    from cronwright.store.base import Store

log = logging.getLogger("cronwright.fleet")

#: how long a finishing job waits for log bytes its agent sent before the final report
LOG_WAIT_S = 5.0
#: the largest frame accepted from an agent (a ``jobs`` report of many jobs, a log batch)
MAX_FRAME_BYTES = 8 * 1024 * 1024
#: how often a report about a job this conductor does not run leads to a look-up (per job)
CLAIM_INTERVAL_S = 3.0
#: a final report about a job another conductor still owns waits this long for it to come here
#: (its owner hands it over, or its lease runs out: ``JOB_LEASE_S``), polling this often
TAKE_OVER_WAIT_S = 20.0
TAKE_OVER_POLL_S = 0.5
#: log held for jobs not run here yet: at most this many bytes per job, for this many jobs
HELD_LOG_BYTES = 4 * 1024 * 1024
HELD_LOG_TOTAL_BYTES = 32 * 1024 * 1024
HELD_LOG_TTL_S = 60.0
#: at most this many unknown job ids of one ``jobs`` frame are looked up
CLAIMS_PER_FRAME = 20
#: activity rows per minute caused by one address or server (failed joins, notices)
ACTIVITY_PER_MIN = 10
#: global-state keys of an enrolled server's install metadata, until its first join
ENROL_PREFIX = "server_enrol:"
#: report keys that are not plugin output (handled here, or never taken from an agent)
_REPORT_SKIP = frozenset(
    {*p.REPORT_DROPPED_KEYS, "id", "state", "push", "pid", "complete", "remote", "updated", "files"}
)


class AgentSocket:
    """One joined agent connection."""

    def __init__(self, ws: WebSocket, server_id: str, hostname: str, ip: str) -> None:
        self.ws = ws
        self.server_id = server_id
        self.hostname = hostname
        self.ip = ip
        self.socket_id = generate_id("ws")
        self.last_echo = time.monotonic()
        #: look-ups of unknown jobs left for the current ``jobs`` frame (``CLAIMS_PER_FRAME``)
        self.claim_budget = 0
        self.send_lock = asyncio.Lock()
        self.closed = False

    async def send(self, cmd: str, data: dict[str, Any]) -> bool:
        if self.closed:
            return False
        try:
            async with self.send_lock:
                await self.ws.send_text(p.encode(cmd, data))
        except Exception:  # the socket went away: the receive loop notices and cleans up
            self.closed = True
            return False
        return True


class AgentHub:
    def __init__(
        self,
        engine: JobEngine,
        servers: ServerRegistry,
        store: Store,
        secret_key: str,
        masters: Any,
    ) -> None:
        self._engine = engine
        self._servers = servers
        self._store = store
        self._secret = secret_key
        #: the base URLs of the conductors an agent may connect to (``masterData``)
        self._masters = masters
        self.sockets: dict[str, AgentSocket] = {}
        #: job id → its run on an agent (resolved by the agent's final report)
        self.runs: dict[str, RemoteRun] = {}
        self.worker = RemoteWorker(self)
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        #: job id → when a report about it, not run here, was last looked up (``_maybe_claim``)
        self._claims: dict[str, float] = {}
        #: job id → ``job_log`` frames of a job not run here yet (``_hold_log``)
        self._held_logs: dict[str, HeldLog] = {}
        self._held_total = 0
        #: activity rows an agent (or a failing client) may cause: per address or server, per minute
        self._activity_limit = HitLimiter(ACTIVITY_PER_MIN)

    # ---- the engine's side (RemoteRun)

    def launch(self, run: RemoteRun) -> bool:
        """Send ``launch_job`` to the job's agent; False when it is not connected."""
        job = run.job
        sock = self.sockets.get(str(job.get("server")))
        if sock is None or sock.closed:
            return False
        self.runs[job["id"]] = run
        job["remote"] = True
        server = next((s for s in self._servers.connected_servers() if s["id"] == sock.server_id), {})
        details = {
            "input": job.get("input") or {},
            "serverData": server.get("userData") or {},
            "versions": {"xysat": ((server.get("info") or {}).get("satellite"))},
        }
        plugin = self._engine.catalog["plugins"].get(job.get("plugin")) or {}
        script = "(File)" if plugin.get("script") else ""  # the agent runs its synced copy of the plugin
        payload = {"job": {**job, "script": script}, "details": details, "sec": {}}
        asyncio.get_running_loop().create_task(self._send_or_fail(sock, run, payload))
        return True

    async def _send_or_fail(self, sock: AgentSocket, run: RemoteRun, payload: dict[str, Any]) -> None:
        if not await sock.send(p.LAUNCH_JOB, payload):
            self.runs.pop(run.job["id"], None)
            run.resolve(result_of({"code": "abort", "description": "Chosen server is no longer connected."}, []))

    def send_abort(self, job: dict[str, Any], reason: str) -> bool:
        """Tell the job's agent to abort it; False when the agent is not connected."""
        sock = self.sockets.get(str(job.get("server")))
        if sock is None or sock.closed:
            self.runs.pop(job["id"], None)
            return False
        job["updated"] = self._engine.clock.now()
        asyncio.get_running_loop().create_task(sock.send(p.ABORT_JOB, {"id": job["id"], "reason": reason}))
        return True

    def send_abort_frame(self, job: dict[str, Any], reason: str) -> None:
        """Send ``abort_job`` to the job's agent when this conductor holds its socket."""
        sock = self.sockets.get(str(job.get("server")))
        if sock is not None and not sock.closed and p.valid_id(job.get("id")):
            self._soon(lambda: sock.send(p.ABORT_JOB, {"id": job["id"], "reason": reason}))

    # ---- the socket

    async def serve(self, ws: WebSocket) -> None:
        """The WebSocket endpoint: handshake, then frames until the socket closes."""
        self._loop = asyncio.get_running_loop()
        await ws.accept()
        ip = ws.client.host if ws.client else ""
        sock: AgentSocket | None = None
        pinger: asyncio.Task[None] | None = None
        try:
            async with asyncio.timeout(p.AUTH_TIMEOUT_S):
                sock = await self._handshake(ws, ip)
            if sock is None:
                return
            pinger = asyncio.get_running_loop().create_task(self._ping(sock))
            while True:
                frame = await _receive_frame(ws)
                if frame is not None:
                    self._on_frame(sock, *frame)
        except (WebSocketDisconnect, TimeoutError, RuntimeError):
            pass
        except Exception:
            log.exception("agent socket failed")
        finally:
            if pinger is not None:
                pinger.cancel()
            if sock is not None:
                await self._disconnected(sock)
            if ws.application_state != WebSocketState.DISCONNECTED:
                with contextlib.suppress(Exception):
                    await ws.close()

    async def _handshake(self, ws: WebSocket, ip: str) -> AgentSocket | None:
        hello: dict[str, Any] | None = None
        nonce = secrets.token_hex(32)
        while True:
            frame = await _receive_frame(ws)
            if frame is None:
                continue
            cmd, data = frame
            if cmd == p.HELLO and hello is None:
                server_id = data.get("id")
                hostname = p.normalize_hostname(data.get("hostname"))
                if not isinstance(server_id, str) or not p.valid_id(server_id):
                    await self._refuse(
                        ws,
                        "Unknown server: agents enrol with an install token (GET /api/app/satellite/config?t=TOKEN).",
                    )
                    return None
                current = self.sockets.get(server_id)
                if current is not None and current.hostname != hostname:
                    text = f"Server with duplicate ID attempting to connect to the network: {server_id} ({hostname})"
                    self._activity("warning", text, ip)
                    await self._refuse(ws, text)
                    return None
                info = data.get("info")
                hello = {"id": server_id, "hostname": hostname, "info": info if isinstance(info, dict) else {}}
                await ws.send_text(p.encode(p.HELLO, {"nonce": nonce, "id": server_id}))
            elif cmd == p.JOIN and hello is not None:
                server_id = hello["id"]
                token = data.get("token")
                ok = p.same_secret(token, p.server_token(server_id, self._secret)) or p.same_secret(
                    token, p.sha256_hex(nonce + self._secret)
                )
                if not ok or self._servers.is_revoked(server_id):
                    self._activity(
                        "warning",
                        f"Server authentication failure (mismatched secret keys): {hello['hostname']} ({ip})",
                        ip,
                    )
                    await self._refuse(ws, "Invalid authentication token.")
                    return None
                return await self._join(ws, hello, ip)

    async def _refuse(self, ws: WebSocket, description: str) -> None:
        with contextlib.suppress(Exception):
            await ws.send_text(p.encode(p.AUTH_FAILURE, {"description": description}))
            await ws.close()

    async def _join(self, ws: WebSocket, hello: dict[str, Any], ip: str) -> AgentSocket:
        server_id = hello["id"]
        sock = AgentSocket(ws, server_id, hello["hostname"], ip)
        enrolled = await asyncio.to_thread(self._store.get_kv, ENROL_PREFIX + server_id)
        if isinstance(enrolled, dict):  # the install token's metadata, kept by the conductor at enrolment
            hello["initial"] = enrolled
        previous = self.sockets.pop(server_id, None)
        if previous is not None:  # the same server again (a reconnect race): the new socket wins
            previous.closed = True
            with contextlib.suppress(Exception):
                await previous.ws.close()
        try:
            record = await asyncio.to_thread(self._servers.connect_agent, server_id, hello, ip, sock.socket_id)
        except CwError as exc:  # e.g. the id of the conductor's own server
            await self._refuse(ws, exc.description)
            raise WebSocketDisconnect() from None
        self.sockets[server_id] = sock
        if isinstance(enrolled, dict):  # the record holds it from now on
            with contextlib.suppress(StoreError):
                await asyncio.to_thread(self._forget_enrolment, server_id)
        plugins = [dict(plugin) for plugin in self._engine.catalog["plugins"].values() if plugin.get("type") == "event"]
        await sock.send(
            p.JOINED,
            {
                "config": {"child_kill_timeout": self._engine.settings.child_kill_timeout_s},
                "masterData": {"masters": list(self._masters())},
                "groups": record.get("groups") or [],
                "plugins": plugins,
                "commands": [],
                "numServers": len(self.sockets) + 1,
                "features": {"api_finish_job": True},
            },
        )
        log.info("agent joined", extra=fields(server=server_id, hostname=sock.hostname, ip=ip))
        for job in self._engine.active.values():  # its jobs carry on (a reconnect within the dead-job timeout)
            if job.get("server") == server_id and job["state"] == "active":
                job["remote"] = True
                self._engine.launcher.note(job, f"Reconnected to remote server: {sock.hostname} ({ip})")
        return sock

    def _forget_enrolment(self, server_id: str) -> None:
        with self._store.write() as w:
            w.delete_kv(ENROL_PREFIX + server_id)

    async def _ping(self, sock: AgentSocket) -> None:
        while not sock.closed:
            await asyncio.sleep(p.PING_FREQ_S)
            if time.monotonic() - sock.last_echo > p.PING_TIMEOUT_S:
                log.warning("agent %s stopped answering; closing its socket", sock.server_id)
                sock.closed = True
                with contextlib.suppress(Exception):
                    await sock.ws.close()
                return
            await sock.send(p.ECHO, {"id": sock.socket_id, "last_ping_ms": int(time.time() * 1000)})

    async def _disconnected(self, sock: AgentSocket) -> None:
        sock.closed = True
        if self.sockets.get(sock.server_id) is not sock:
            return  # replaced by a newer socket of the same server
        del self.sockets[sock.server_id]
        for job_id in [j for j, h in self._held_logs.items() if h.server_id == sock.server_id]:
            self._drop_held(job_id)
        try:
            await asyncio.to_thread(self._servers.disconnect_agent, sock.server_id, sock.socket_id)
        except Exception:  # e.g. the database: the server is offline here all the same
            log.exception("recording the disconnect of server %s failed", sock.server_id)
        log.info("agent disconnected", extra=fields(server=sock.server_id, hostname=sock.hostname))
        for job in self._engine.active.values():  # they stay active; the dead-job rule ends them if it stays away
            if job.get("server") == sock.server_id and job.get("remote"):
                job["remote"] = False
                self._engine.launcher.note(job, f"Lost connection to remote server: {sock.hostname} ({sock.ip})")

    def _soon(self, work: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        """Run ``work()`` on the event loop, from the loop or from a thread (registry callbacks)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(lambda: loop.create_task(work()))

    def send_groups(self, server_id: str, groups: list[str]) -> None:
        """An online agent's groups changed: tell it (``update {groups}``)."""
        sock = self.sockets.get(server_id)
        if sock is not None:
            self._soon(lambda: sock.send(p.UPDATE, {"groups": list(groups)}))

    def close_stale(self, server_id: str) -> None:
        """Close this conductor's socket of a server whose agent joined another conductor."""
        sock = self.sockets.get(server_id)
        if sock is not None:
            sock.closed = True
            self._soon(sock.ws.close)

    def close_server(self, server_id: str) -> None:
        """Disconnect a server's agent (revoked or deleted): its running jobs end now as aborted
        (the agent is told to kill them), then ``uninstall``, then close."""
        sock = self.sockets.get(server_id)
        if sock is None:
            return
        reason = f"Server was deleted: {server_id}"
        ended = [job_id for job_id, run in self.runs.items() if run.job.get("server") == server_id and not run.done]
        for job_id in ended:
            self.runs.pop(job_id).resolve(result_of({"code": "abort", "description": reason}, []))

        async def uninstall() -> None:
            for job_id in ended:  # the agent kills them (it stops at ``uninstall`` anyway)
                await sock.send(p.ABORT_JOB, {"id": job_id, "reason": reason})
            await sock.send(p.UNINSTALL, {})
            sock.closed = True
            with contextlib.suppress(Exception):
                await sock.ws.close()

        self._soon(uninstall)

    # ---- frames from a joined agent

    def _on_frame(self, sock: AgentSocket, cmd: str, data: dict[str, Any]) -> None:
        if cmd == p.ECHOBACK:
            sock.last_echo = time.monotonic()
        elif cmd == p.JOBS:
            sock.last_echo = time.monotonic()
            sock.claim_budget = CLAIMS_PER_FRAME
            for job_id, report in data.items():
                if isinstance(report, dict):
                    self._on_report(sock, job_id, report)
        elif cmd == p.JOB_LOG:
            self._on_log(sock, data)
        elif cmd == p.JOB_META:
            job = self._own_job(sock, data.get("id"))
            if job is not None and isinstance(data.get("text"), str):
                self._engine.reports.job_notice(job["id"], data["text"][:4096])
        elif cmd == p.MONITOR:
            sample = data.get("data")
            if isinstance(sample, dict):
                self._servers.update_info(sock.server_id, sample)
        elif cmd in p.NOTICES:
            description = data.get("description")
            if isinstance(description, str):
                self._activity(
                    cmd, description[:4096], sock.server_id, server=sock.server_id, hostname=sock.hostname, ip=sock.ip
                )

    def _own_job(self, sock: AgentSocket, job_id: Any) -> dict[str, Any] | None:
        """The active job ``job_id`` when it is assigned to this agent's server, else None."""
        job = self._engine.active.get(job_id) if isinstance(job_id, str) else None
        if job is None or job.get("server") != sock.server_id:
            return None
        return job

    def _on_report(self, sock: AgentSocket, job_id: str, report: dict[str, Any]) -> None:
        if job_id not in self._engine.active:
            if sock.claim_budget > 0:
                sock.claim_budget -= 1
                self._maybe_claim(sock, job_id)
            return
        job = self._own_job(sock, job_id)
        if job is None or job["state"] not in ("active", "finishing"):
            return
        reports = self._engine.reports
        job["remote"] = True
        pid = report.get("pid")
        if isinstance(pid, int) and not isinstance(pid, bool) and pid != job.get("pid"):
            reports.job_started(job_id, pid)
        push = report.get("push")
        if isinstance(push, dict):
            reports.job_push(job_id, push)
        changes = {k: v for k, v in report.items() if k not in _REPORT_SKIP and job.get(k) != v}
        reports.job_update(job_id, changes)  # also the heartbeat: ``updated`` is now
        if report.get("state") == "complete":
            asyncio.get_running_loop().create_task(self.finish(sock.server_id, job_id, report, None))

    def _hold_log(self, sock: AgentSocket, job_id: str, data: dict[str, Any]) -> None:
        """Keep log of a job not run here (yet) that this agent's server may run: the agent counts
        it as delivered, so it must not be lost when this conductor takes the job over (``_claim``).
        Only ``offset`` and ``text`` are kept, for ``HELD_LOG_TTL_S``, within ``HELD_LOG_BYTES`` per
        job and ``HELD_LOG_TOTAL_BYTES`` in all; replayed only for the agent that sent it."""
        text, offset = data.get("text"), data.get("offset")
        if (
            not p.valid_id(job_id)
            or not isinstance(text, str)
            or not isinstance(offset, int)
            or isinstance(offset, bool)
        ):
            return
        now = time.monotonic()
        self._prune_held(now)
        held = self._held_logs.get(job_id)
        if held is None:
            held = self._held_logs[job_id] = HeldLog(sock.server_id, now)
        if held.server_id != sock.server_id or held.size + len(text) > HELD_LOG_BYTES:
            return
        if self._held_total + len(text) > HELD_LOG_TOTAL_BYTES:
            return
        held.frames.append((offset, text))
        held.size += len(text)
        self._held_total += len(text)

    def _prune_held(self, now: float) -> None:
        for job_id in [j for j, h in self._held_logs.items() if now - h.since > HELD_LOG_TTL_S]:
            self._drop_held(job_id)

    def _drop_held(self, job_id: str) -> HeldLog | None:
        held = self._held_logs.pop(job_id, None)
        if held is not None:
            self._held_total -= held.size
        return held

    def _maybe_claim(self, sock: AgentSocket, job_id: str) -> None:
        """A report about a job this conductor does not run: look it up (at most every
        ``CLAIM_INTERVAL_S`` per job) and take it over, ask its owner for it, or stop it."""
        if not p.valid_id(job_id):
            return
        now = time.monotonic()
        if now - self._claims.get(job_id, 0.0) < CLAIM_INTERVAL_S:
            return
        if len(self._claims) > 10_000:
            self._claims = {k: t for k, t in self._claims.items() if now - t < CLAIM_INTERVAL_S}
        self._claims[job_id] = now
        asyncio.get_running_loop().create_task(self._claim(sock, job_id))

    async def _claim(self, sock: AgentSocket, job_id: str) -> None:
        """The job follows its agent's socket (several conductors, docs/fleet.md): an unfinished job
        of this agent's server is adopted here when it is free, else its owner is asked to hand it
        over (``handoff``); a job that ended (or never existed) is aborted on the agent, so its
        orphan process stops (servers-agents.md §8.2, CRONWRIGHT DECISION)."""
        engine = self._engine
        try:
            record = await asyncio.to_thread(self._store.get_job, job_id)
            if record is None or record.get("state") == "complete":
                self._drop_held(job_id)
                reason = str((record or {}).get("description") or "The job is not known to the conductor.")
                await sock.send(p.ABORT_JOB, {"id": job_id, "reason": reason})
                return
            if record.get("server") != sock.server_id or job_id in engine.active:
                return
            await self._adopt_or_ask(job_id)
        except StoreError as exc:
            log.warning("job %s reported by server %s not taken over yet: %s", job_id, sock.server_id, exc)

    async def _adopt_or_ask(self, job_id: str, *, ask: bool = True) -> bool:
        """Run an unfinished job here: adopt it when it is free (or already this conductor's in the
        database, e.g. just handed over), else (``ask``) ask its owner to hand it over. True when
        it runs here now."""
        engine = self._engine
        doc = await asyncio.to_thread(self._store.adopt_job, job_id, engine.conductor_id, engine.job_lease_s)
        if doc is not None:
            if job_id not in engine.active:
                await adopt(engine, [doc], own=False)
            self.replay_held(job_id)
            return job_id in engine.active
        if ask:
            await asyncio.to_thread(engine.control.request, job_id, "handoff", engine.conductor_id)
        return False

    def replay_held(self, job_id: str) -> None:
        """Append the log an agent sent about a job before it ran here (by offset: nothing twice)."""
        held = self._drop_held(job_id)
        sock = self.sockets.get(held.server_id) if held is not None else None
        if held is None or sock is None or sock.closed:
            return
        for offset, text in held.frames:
            self._on_log(sock, {"id": job_id, "offset": offset, "text": text})

    async def take_over(self, job_id: str, server_id: str, timeout_s: float) -> bool:
        """Before a final report is taken: make this conductor run an unfinished job of
        ``server_id`` that another conductor still owns (the agent reports here now, e.g. after its
        conductor died and before the job's lease ran out). Waits up to ``timeout_s``; True when
        the job runs here."""
        engine = self._engine
        deadline = time.monotonic() + timeout_s
        asked = False
        while job_id not in engine.active and time.monotonic() < deadline:
            record = await asyncio.to_thread(self._store.get_job, job_id)
            if record is None or record.get("state") == "complete" or record.get("server") != server_id:
                return False
            try:
                if await self._adopt_or_ask(job_id, ask=not asked):
                    break
            except StoreError as exc:
                log.warning("job %s not taken over yet: %s", job_id, exc)
            asked = True
            await asyncio.sleep(TAKE_OVER_POLL_S)
        return job_id in engine.active

    def _on_log(self, sock: AgentSocket, data: dict[str, Any]) -> None:
        job_id = data.get("id")
        if isinstance(job_id, str) and job_id not in self._engine.active:
            self._hold_log(sock, job_id, data)
            return
        job = self._own_job(sock, job_id)
        text = data.get("text")
        if job is None or not isinstance(text, str) or job["state"] not in ("active", "finishing"):
            return
        chunk = text.encode("utf-8", "surrogateescape")
        offset = data.get("offset")
        if isinstance(offset, int) and not isinstance(offset, bool) and offset >= 0:
            held = int(job.get("log_file_size") or 0)
            if offset + len(chunk) <= held:
                return  # already appended (a replay after a reconnect)
            if offset < held:
                chunk = chunk[held - offset :]
        if chunk:
            self._engine.reports.job_log(job["id"], chunk)

    # ---- the final report (``finish_job`` or a ``jobs`` report of a complete job)

    async def finish(self, server_id: str, job_id: str, report: dict[str, Any], log_size: int | None) -> bool:
        """End the job's run with the agent's final report; False when this conductor does not
        run ``job_id`` on ``server_id`` (another server's job, or not active here)."""
        job = self._engine.active.get(job_id)
        if job is None or job.get("server") != server_id:
            return False
        run = self.runs.get(job_id)
        if run is None or run.done:
            return run is not None
        if log_size is not None:  # the agent sent its last log bytes on the socket before this call
            deadline = time.monotonic() + LOG_WAIT_S
            while int(job.get("log_file_size") or 0) < log_size and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        stored = await asyncio.to_thread(self._engine.files.job_outputs, job_id, report.get("files"))
        if run.abort_reason and report.get("code") in (None, 0, "abort"):
            report = {**report, "code": "abort", "description": run.abort_reason}
        self.runs.pop(job_id, None)
        run.resolve(result_of(report, stored))
        return True

    def _activity(self, action: str, description: str, key: str, **context: Any) -> None:
        """An activity row, at most ``ACTIVITY_PER_MIN`` a minute per ``key`` (an address or a server)."""
        if self._activity_limit.hit(key, time.monotonic()):
            log.warning("activity %s from %s not recorded (rate): %s", action, key, description[:200])
            return
        try:
            with self._store.write() as w:
                activity.record(w, action, epoch=self._engine.clock.now(), description=description, **context)
        except StoreError as exc:
            log.warning("activity %s not recorded: %s", action, exc)

    def stop(self) -> None:
        self._stopping = True
        for sock in list(self.sockets.values()):
            sock.closed = True


@dataclass
class HeldLog:
    """``job_log`` frames of a job this conductor does not run yet, from one server."""

    server_id: str
    since: float
    frames: list[tuple[int, str]] = field(default_factory=list)
    size: int = 0


async def _receive_frame(ws: WebSocket) -> tuple[str, dict[str, Any]] | None:
    """The next frame, None for one to ignore (binary, too large, not a frame); raises
    ``WebSocketDisconnect`` when the socket closed."""
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    if not isinstance(text, str) or len(text) > MAX_FRAME_BYTES:
        return None
    return p.decode(text)
