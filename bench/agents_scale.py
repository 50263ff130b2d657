"""Benchmark of the conductor's cost per connected agent; prints one JSON object.

Starts a real ``cronwright serve`` (SQLite in a temporary data directory, ``metrics = open``) and
connects ``--agents`` simulated agents (default 500, ``--quick``: 100) from this one process: one
asyncio event loop (uvloop when installed), one ``websockets`` connection and one coroutine per
agent, no threads. Each agent enrols (``GET /api/app/satellite/config?t=TOKEN``, one reusable install
token), says ``hello`` with a realistic ``info``, ``join``s with its ``auth_token``, answers every
``echo`` with ``echoback`` and sends a ``monitor`` minute sample ~1 s after joining and then once a
minute at ``1000 + hash(hostname) mod (numServers × 29)`` ms past the minute (servers-agents.md §2.1),
exactly as a stock agent with no job does. Only 127.0.0.1.

Figures:

- ``enrol_s``: the N ``satellite/config`` calls (sequential); ``join_s``: first connect → the last
  ``joined`` (``--join-concurrency`` handshakes in flight), with per-agent ``join_ms_p50/p99`` and the
  conductor CPU seconds it took;
- ``conductor_cpu_pct_idle``: the conductor before any agent (baseline);
- after a settling period, a ``--window`` (default 60 s, so it covers one minute's samples) cut
  in 5-s slices: ``conductor_cpu_pct_avg`` / ``_max`` (% of one core, children included),
  ``conductor_rss_mb`` (at the end) and ``_max``, the same for this client
  (``client_cpu_pct_*``, ``client_loop_lag_ms_max``), the whole machine's CPU (other work shows
  there) and the frames exchanged;
- from ``/metrics`` over the window: database statements and HTTP requests (should be ~0: echoes
  and samples are handled in memory);
- ``get_active_servers_ms_*`` / ``_bytes`` with N online (after the window, 20 calls);
- ``agents_lost``: sockets that closed during the run (target 0).

Targets (issue 12): ≤ 10 % of one core and ≤ 200 MB RSS with 500 agents at the default echo
interval; ``meets_targets`` is ``null`` for the CPU/RSS targets when fewer than 500 agents ran.

Run: ``python bench/agents_scale.py`` (about 2 minutes; ``--quick`` for 100 agents and a 20-s window).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import http.client
import json
import os
import resource
import signal
import statistics
import sys
import tempfile
import time
import traceback
import zlib
from dataclasses import dataclass, field
from typing import Any

import psutil
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from _server import start_server

KEY = "bench-agents-scale-admin-key"
TARGETS = {"conductor_cpu_pct_avg_max": 10.0, "conductor_rss_mb_max": 200.0, "agents": 500, "agents_lost": 0}
SLICE_S = 5.0


# ---- the conductor and this process, sampled


def _cpu_seconds(process: psutil.Process) -> float:
    """User + system CPU seconds of ``process``, its reaped children and its live children."""
    times = process.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            ct = child.cpu_times()
            total += ct.user + ct.system
    return total


def _rss_mb(process: psutil.Process) -> float:
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += child.memory_info().rss
    return total / 1e6


@dataclass
class Window:
    """CPU % of one core per slice for the conductor and this client, and RSS."""

    server_cpu: list[float] = field(default_factory=list)
    client_cpu: list[float] = field(default_factory=list)
    machine_cpu: list[float] = field(default_factory=list)
    server_rss: list[float] = field(default_factory=list)
    client_rss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0


async def measure(server: psutil.Process, seconds: float) -> Window:
    """Sample both processes every ``SLICE_S`` for ``seconds`` (the loop keeps serving meanwhile)."""
    client = psutil.Process()
    window = Window()
    psutil.cpu_percent(None)
    start = last = time.monotonic()
    start_server_s = last_server_s = _cpu_seconds(server)
    start_client_s = last_client_s = _cpu_seconds(client)
    while (now := time.monotonic()) - start < seconds - 0.01:
        await asyncio.sleep(min(SLICE_S, seconds - (now - start)))
        now = time.monotonic()
        server_s, client_s = _cpu_seconds(server), _cpu_seconds(client)
        wall = now - last
        window.server_cpu.append(100 * (server_s - last_server_s) / wall)
        window.client_cpu.append(100 * (client_s - last_client_s) / wall)
        window.machine_cpu.append(psutil.cpu_percent(None))
        window.server_rss.append(_rss_mb(server))
        window.client_rss.append(_rss_mb(client))
        last, last_server_s, last_client_s = now, server_s, client_s
    window.seconds = last - start
    window.server_cpu_s = last_server_s - start_server_s
    window.client_cpu_s = last_client_s - start_client_s
    return window


class LoopLag:
    """The worst lateness of a 100-ms sleep on this loop (the client keeping up, or not)."""

    def __init__(self) -> None:
        self.max_ms = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.max_ms = 0.0
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.1)
            self.max_ms = max(self.max_ms, (time.monotonic() - before - 0.1) * 1000)


# ---- HTTP (blocking; called on a thread once the agents are connected)


class Http:
    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.conn = http.client.HTTPConnection(host, port, timeout=60)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
        headers = {"X-API-Key": KEY}
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body), "application/json"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, data, headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.HTTPException):  # an idle keep-alive connection was closed
                self.conn.close()
                self.conn = http.client.HTTPConnection(*self.address, timeout=60)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def api(self, name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        status, data = self.request("POST", f"/api/app/{name}/v1", body or {})
        answer = json.loads(data)
        assert status == 200 and answer.get("code") == 0, (name, status, answer)
        return answer


def scrape(client: Http) -> dict[str, float]:
    """``/metrics`` as ``{name{labels}: value}`` (counters and histogram counts only)."""
    status, data = client.request("GET", "/metrics")
    assert status == 200, status
    values: dict[str, float] = {}
    for line in data.decode().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _, value = line.rpartition(" ")
        with contextlib.suppress(ValueError):
            values[name] = float(value)
    return values


def metric_deltas(before: dict[str, float], after: dict[str, float], prefix: str) -> dict[str, float]:
    return {
        name.removeprefix(prefix): round(after[name] - before.get(name, 0.0), 3)
        for name in after
        if name.startswith(prefix) and after[name] != before.get(name, 0.0)
    }


# ---- the simulated agents


def _meminfo() -> dict[str, int]:
    """``/proc/meminfo`` as a Linux agent's sample has it (lower-cased, ``Mem`` removed, bytes)."""
    result: dict[str, int] = {}
    with contextlib.suppress(OSError), open("/proc/meminfo", encoding="ascii") as source:
        for line in source:
            key, _, rest = line.partition(":")
            parts = rest.split()
            if parts:
                name = key.strip().removeprefix("Mem")
                result[name[:1].lower() + name[1:]] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return result


def base_info() -> dict[str, Any]:
    """The ``info`` of a hello, once (the agent's own ``host_info``; each agent swaps its host name)."""
    try:
        from cronwright.agent.sysinfo import host_info

        return host_info("bench-agent")
    except ImportError:  # run outside the project's venv: a small stand-in
        return {"satellite": "1.0.39", "platform": "linux", "arch": "x64", "os": {"platform": "Linux"}}


@dataclass
class Agent:
    index: int
    server_id: str
    auth: str
    hostname: str
    ws: ClientConnection | None = None
    num_servers: int = 1
    joined_at: float = 0.0
    join_ms: float = 0.0
    echoes: int = 0


@dataclass
class Fleet:
    agents: list[Agent]
    info: dict[str, Any]
    lost: int = 0
    failed: list[str] = field(default_factory=list)
    monitors: int = 0
    stopping: bool = False
    joined: asyncio.Event = field(default_factory=asyncio.Event)
    joined_count: int = 0


async def run_agent(fleet: Fleet, agent: Agent, url: str, gate: asyncio.Semaphore, compression: str | None) -> None:
    info = {**fleet.info, "os": {**(fleet.info.get("os") or {}), "hostname": agent.hostname}}
    try:
        async with gate:
            started = time.monotonic()
            ws = await connect(
                url,
                open_timeout=60,
                ping_interval=None,  # the conductor's echo is the keep-alive (as cronwright agent)
                close_timeout=2,
                max_size=16 * 1024 * 1024,
                compression=compression,
                proxy=None,
            )
            agent.ws = ws
            await ws.send(
                json.dumps({"cmd": "hello", "data": {"id": agent.server_id, "hostname": agent.hostname, "info": info}})
            )
            frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
            assert frame["cmd"] == "hello", frame
            await ws.send(json.dumps({"cmd": "join", "data": {"token": agent.auth}}))
            frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
            assert frame["cmd"] == "joined", frame
            agent.joined_at = time.monotonic()
            agent.join_ms = (agent.joined_at - started) * 1000
            agent.num_servers = int(frame["data"].get("numServers") or 1)
        fleet.joined_count += 1
        if fleet.joined_count == len(fleet.agents):
            fleet.joined.set()
        async for message in ws:
            text = message if isinstance(message, str) else message.decode()
            if text[:16].startswith('{"cmd":"echo"'):  # the conductor's compact encoding
                agent.echoes += 1
                await ws.send('{"cmd":"echoback","data":' + text[text.index('"data":') + 7 : -1] + "}")
            else:
                frame = json.loads(text)
                if frame.get("cmd") == "echo":
                    agent.echoes += 1
                    await ws.send(json.dumps({"cmd": "echoback", "data": frame.get("data") or {}}))
        if not fleet.stopping:
            fleet.lost += 1
    except ConnectionClosed:
        if not fleet.stopping:
            fleet.lost += 1
    except Exception as exc:  # a refused or failed handshake
        where = traceback.extract_tb(exc.__traceback__)[-1]
        fleet.failed.append(f"{agent.hostname}: {exc!r} at {os.path.basename(where.filename)}:{where.lineno}"[:300])
        fleet.joined_count += 1
        if fleet.joined_count == len(fleet.agents):
            fleet.joined.set()


def monitor_offset_s(hostname: str, num_servers: int) -> float:
    """§2.1: ``1000 + (hash(hostname) mod (clamp(numServers, 1, 1000) × 29))`` ms past the minute."""
    return (1000 + zlib.crc32(hostname.encode()) % (min(max(num_servers, 1), 1000) * 29)) / 1000


def monitor_sample(agent: Agent, meminfo: dict[str, int], cores: int) -> str:
    load = os.getloadavg()[0]
    data = {
        "cpu": {"manufacturer": "AMD", "brand": "EPYC", "cores": cores, "physicalCores": cores, "speed": 2.4,
                "avgLoad": round(load, 2), "currentLoad": 5.45,
                "cpus": [{"load": 5.1, "user": 3.2, "system": 1.9, "idle": 94.9}] * cores,
                "totals": {"user": 1204, "nice": 0, "system": 880, "idle": 99012, "iowait": 12, "irq": 0}},
        "memory": meminfo,
        "process": {"pid": 4000 + agent.index, "started": 1796310265, "mem": 78577664, "cpu": 0.67},
    }  # fmt: skip
    sample = {
        "version": "1.0",
        "date": time.time(),
        "server": agent.server_id,
        "hostname": agent.hostname,
        "data": data,
    }
    return json.dumps({"cmd": "monitor", "data": sample}, separators=(",", ":"))


async def monitor_loop(fleet: Fleet) -> None:
    """One task for every agent's samples: ~1 s after its join, then each minute at its offset."""
    meminfo, cores = _meminfo(), os.cpu_count() or 1
    heap: list[tuple[float, int]] = []
    for agent in fleet.agents:
        if agent.ws is not None and agent.joined_at:
            heapq.heappush(heap, (time.time() + max(0.0, 1.0 - (time.monotonic() - agent.joined_at)), agent.index))
    while heap:
        due, index = heapq.heappop(heap)
        delay = due - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        agent = fleet.agents[index]
        if agent.ws is None:
            continue
        with contextlib.suppress(ConnectionClosed):
            await agent.ws.send(monitor_sample(agent, meminfo, cores))
            fleet.monitors += 1
        minute = (time.time() // 60 + 1) * 60
        heapq.heappush(heap, (minute + monitor_offset_s(agent.hostname, agent.num_servers), index))


# ---- the run


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def raise_open_files(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


async def bench(args: argparse.Namespace, host: str, port: int, server: psutil.Process) -> dict[str, Any]:
    client = Http(host, port)
    result: dict[str, Any] = {}
    lag = LoopLag()
    lag.start()

    log(f"baseline: the conductor with no agent for {args.baseline:g} s")
    idle = await measure(server, args.baseline)
    result["conductor_cpu_pct_idle"] = round(100 * idle.server_cpu_s / idle.seconds, 2)
    result["conductor_rss_mb_idle"] = round(idle.server_rss[-1], 1)

    token = client.api("get_satellite_token")["token"]
    log(f"enrolling {args.agents} agents")
    started = time.monotonic()
    agents = []
    for index in range(args.agents):
        status, data = client.request("GET", f"/api/app/satellite/config?t={token}")
        config = json.loads(data)
        assert status == 200 and "auth_token" in config, (status, config)
        agents.append(Agent(index, config["server_id"], config["auth_token"], f"bench-agent-{index:05d}"))
    result["enrol_s"] = round(time.monotonic() - started, 2)

    fleet = Fleet(agents, base_info())
    url = f"ws://{host}:{port}/"
    gate = asyncio.Semaphore(args.join_concurrency or len(agents))
    compression = None if args.compression == "none" else "deflate"
    log(f"joining {args.agents} agents ({args.join_concurrency or 'all'} at a time, compression {args.compression})")
    server_cpu_before, client_cpu_before = _cpu_seconds(server), _cpu_seconds(psutil.Process())
    started = time.monotonic()
    tasks = [asyncio.get_running_loop().create_task(run_agent(fleet, a, url, gate, compression)) for a in agents]
    await asyncio.wait_for(fleet.joined.wait(), 600)
    result["join_s"] = round(time.monotonic() - started, 2)
    result["joins_per_s"] = round(len(agents) / result["join_s"], 1)
    join_ms = [a.join_ms for a in agents if a.joined_at]
    result["join_ms_p50"] = round(percentile(join_ms, 0.5), 1) if join_ms else None
    result["join_ms_p99"] = round(percentile(join_ms, 0.99), 1) if join_ms else None
    result["join_conductor_cpu_s"] = round(_cpu_seconds(server) - server_cpu_before, 2)
    result["join_client_cpu_s"] = round(_cpu_seconds(psutil.Process()) - client_cpu_before, 2)
    result["agents_joined"] = len(join_ms)
    result["agents_failed"] = len(fleet.failed)
    if fleet.failed:
        result["failures_sample"] = fleet.failed[:5]
    monitors = asyncio.get_running_loop().create_task(monitor_loop(fleet))

    log(f"{len(join_ms)} joined in {result['join_s']} s; settling for {args.settle:g} s")
    await asyncio.sleep(args.settle)
    echoes_before, monitors_before = sum(a.echoes for a in agents), fleet.monitors
    metrics_before = await asyncio.to_thread(scrape, client)
    log(f"measuring for {args.window:g} s")
    lag.start()
    window = await measure(server, args.window)
    metrics_after = await asyncio.to_thread(scrape, client)
    result.update(
        {
            "window_s": round(window.seconds, 1),
            "conductor_cpu_pct_avg": round(100 * window.server_cpu_s / window.seconds, 2),
            "conductor_cpu_pct_max": round(max(window.server_cpu), 2),
            "conductor_cpu_pct_slices": [round(v, 1) for v in window.server_cpu],
            "conductor_rss_mb": round(window.server_rss[-1], 1),
            "conductor_rss_mb_max": round(max(window.server_rss), 1),
            "conductor_rss_kb_per_agent": round(
                (window.server_rss[-1] - result["conductor_rss_mb_idle"]) * 1000 / max(1, len(join_ms)), 1
            ),
            "client_cpu_pct_avg": round(100 * window.client_cpu_s / window.seconds, 2),
            "client_cpu_pct_max": round(max(window.client_cpu), 2),
            "client_rss_mb": round(window.client_rss[-1], 1),
            "client_loop_lag_ms_max": round(lag.max_ms, 1),
            "machine_cpu_pct_avg": round(statistics.fmean(window.machine_cpu), 1),
            "machine_cpu_pct_max": round(max(window.machine_cpu), 1),
            "loadavg_1m_end": round(os.getloadavg()[0], 2),
            "echoes_per_s": round((sum(a.echoes for a in agents) - echoes_before) / window.seconds, 1),
            "monitors_in_window": fleet.monitors - monitors_before,
            "window_db_statements": metric_deltas(
                metrics_before, metrics_after, "cronwright_db_statement_duration_seconds_count"
            ),
            "window_http_requests": metric_deltas(metrics_before, metrics_after, "cronwright_http_requests_total"),
        }
    )

    log("timing get_active_servers")

    def active_servers() -> tuple[list[float], int, int]:
        times, size, rows = [], 0, 0
        for _ in range(21):
            began = time.perf_counter()
            status, data = client.request("POST", "/api/app/get_active_servers/v1", {})
            times.append((time.perf_counter() - began) * 1000)
            assert status == 200, status
            size, rows = len(data), len(json.loads(data)["rows"])
        return times[1:], size, rows

    times, size, rows = await asyncio.to_thread(active_servers)
    result["get_active_servers_ms_median"] = round(statistics.median(times), 2)
    result["get_active_servers_ms_p90"] = round(percentile(times, 0.9), 2)
    result["get_active_servers_ms_max"] = round(max(times), 2)
    result["get_active_servers_bytes"] = size
    result["get_active_servers_rows"] = rows
    result["agents_lost"] = fleet.lost

    fleet.stopping = True
    monitors.cancel()
    await asyncio.gather(*(a.ws.close() for a in agents if a.ws is not None), return_exceptions=True)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, monitors, return_exceptions=True)
    return result


def log(text: str) -> None:
    print(f"[agents_scale] {text}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="100 agents, 20-s window, shorter pauses")
    parser.add_argument("--window", type=float, default=60.0, help="measurement window, seconds (default 60)")
    parser.add_argument("--settle", type=float, default=15.0, help="seconds between the last join and the window")
    parser.add_argument("--baseline", type=float, default=10.0, help="seconds of the idle baseline")
    parser.add_argument("--join-concurrency", type=int, default=0, help="handshakes in flight (0: all at once)")
    parser.add_argument(
        "--compression", choices=("deflate", "none"), default="deflate",
        help="permessage-deflate offered by the agents (deflate: what cronwright agent does)",
    )  # fmt: skip
    parser.add_argument("--no-local-worker", action="store_true", help="CRONWRIGHT_LOCAL_WORKER=false")
    args = parser.parse_args()
    if args.quick:
        args.agents = 100 if args.agents == 500 else args.agents
        args.window, args.settle, args.baseline = min(args.window, 20.0), min(args.settle, 5.0), min(args.baseline, 5.0)
    open_files = raise_open_files(args.agents + 256)
    env = {"CRONWRIGHT_METRICS": "open"}
    if args.no_local_worker:
        env["CRONWRIGHT_LOCAL_WORKER"] = "false"
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
        loop_kind = "uvloop"
    except ImportError:
        runner, loop_kind = asyncio.Runner(), "asyncio"
    with tempfile.TemporaryDirectory() as data_dir:
        proc, host, port = start_server(data_dir, KEY, **env)
        assert host in ("127.0.0.1", "localhost"), host
        host = "127.0.0.1"
        log(f"server pid {proc.pid} on {host}:{port}")
        try:
            with runner:
                measured = runner.run(bench(args, host, port, psutil.Process(proc.pid)))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except Exception:
                proc.kill()
    full = args.agents >= TARGETS["agents"]
    cpu_ok = measured["conductor_cpu_pct_avg"] <= TARGETS["conductor_cpu_pct_avg_max"]
    rss_ok = measured["conductor_rss_mb_max"] <= TARGETS["conductor_rss_mb_max"]
    result = {
        "benchmark": "agents_scale",
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "agents": args.agents,
        "local_worker": not args.no_local_worker,
        "compression": args.compression,
        "join_concurrency": args.join_concurrency or args.agents,
        "client_loop": loop_kind,
        "client_open_files_limit": open_files,
        **measured,
        "targets": TARGETS,
        "meets_targets": {
            "conductor_cpu": cpu_ok if full else None,
            "conductor_rss": rss_ok if full else None,
            "all_joined_none_lost": measured["agents_joined"] == args.agents and measured["agents_lost"] == 0,
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
