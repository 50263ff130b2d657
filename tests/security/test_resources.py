"""Issue 8, point 8: bounded resources per request.

Large job logs are streamed from disk in chunks (server memory does not grow with the log's size
and the event loop keeps answering), a ``stream_job_log`` client that stops reading cannot make the
server queue the job's output for it, and JSON nested deeper than ``jsonutil.MAX_JSON_DEPTH`` is a
400 on every endpoint and a notice (never a broken job) in a plugin's output.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cronwright.api.routes import all_endpoints
from cronwright.api.routes.jobs import JobFeed
from cronwright.jsonutil import MAX_JSON_DEPTH, JSONTooDeep, loads_untrusted, nesting_exceeds
from tests.api.helpers import run_wait, script_event, start_job, wait_job, wait_state
from tests.support.server import ADMIN_KEY, Api, Server

MB = 1024 * 1024
#: the issue's figure: 10 concurrent reads of a 100 MB log keep RSS growth under 50 MB
LOG_BYTES = 100 * 1000 * 1000
RSS_GROWTH_LIMIT = 50 * MB
LINE = b"a" * 99 + b"\n"


@pytest.fixture(scope="module")
def private(server_factory: Callable[..., Server]) -> Server:
    """A server of this module alone, so its memory reflects only what these tests do."""
    return server_factory("sqlite")


@pytest.fixture(scope="module")
def papi(private: Server) -> Api:
    return private.client()


def _nested(depth: int) -> str:
    """A JSON value of exactly ``depth`` nested containers (objects and arrays alternating)."""
    opens, closes = [], []
    for level in range(depth):
        if level % 2:
            opens.append("[")
            closes.append("]")
        else:
            opens.append('{"k":')
            closes.append("}")
    return "".join(opens) + "1" + "".join(reversed(closes))


def _plant_log(server: Server, job_id: str, writer: Callable[[Any], None], compresslevel: int) -> Path:
    """Replace a stored job's compressed log by what ``writer`` writes into a gzip stream."""
    path = server.data_dir / "logs" / "jobs" / f"{job_id}.log.gz"
    tmp = path.with_suffix(".plant")
    with gzip.open(tmp, "wb", compresslevel=compresslevel) as fh:
        writer(fh)
    os.replace(tmp, path)
    return path


def _big_text_log(fh: Any) -> None:
    block = LINE * (MB // len(LINE) + 1)
    written = 0
    while written < LOG_BYTES:
        piece = block[: LOG_BYTES - written]
        fh.write(piece)
        written += len(piece)


class RssPeak:
    """Samples a process's resident memory every few milliseconds and keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            self._stop.wait(0.01)

    @property
    def growth(self) -> int:
        return self.peak - self.base

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _stored_job_with(server: Server, api: Api, writer: Callable[[Any], None], size: int, level: int) -> str:
    job = run_wait(api, script_event(api, "echo small")["id"])
    _plant_log(server, job["id"], writer, level)
    api.ok("update_job", {"id": job["id"], "log_file_size": size})
    return str(job["id"])


def _poll_get_events(url: str, stop: threading.Event, latencies: list[float]) -> None:
    with httpx.Client(base_url=url, timeout=30, headers={"X-API-Key": ADMIN_KEY}) as client:
        while not stop.is_set():
            started = time.perf_counter()
            response = client.get("/api/app/get_events/v1")
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200
            stop.wait(0.02)


@contextmanager
def _get_events_meanwhile(url: str) -> Iterator[list[float]]:
    latencies: list[float] = []
    stop = threading.Event()
    thread = threading.Thread(target=_poll_get_events, args=(url, stop, latencies), daemon=True)
    thread.start()
    try:
        yield latencies
    finally:
        stop.set()
        thread.join()


def _read_all(url: str, params: dict[str, str], raw: bool) -> tuple[int, int, str, httpx.Headers]:
    digest = hashlib.sha256()
    size = 0
    with httpx.stream("GET", url, params=params, headers={"X-API-Key": ADMIN_KEY}, timeout=120) as response:
        chunks = response.iter_raw(1 << 20) if raw else response.iter_bytes(1 << 20)
        for chunk in chunks:
            size += len(chunk)
            digest.update(chunk)
        return response.status_code, size, digest.hexdigest(), response.headers


@pytest.mark.slow
def test_ten_concurrent_100mb_log_reads_stream(private: Server, papi: Api) -> None:
    """10 concurrent view/download_job_log reads of a 100 MB log return it whole while the server's RSS grows < 50 MB and get_events keeps answering."""
    job_id = _stored_job_with(private, papi, _big_text_log, LOG_BYTES, level=1)
    token = papi.ok("get_job", {"id": job_id})["token"]
    expected = hashlib.sha256()
    _big_text_log(type("Sink", (), {"write": lambda self, data: expected.update(data)})())
    assert private.proc is not None
    with (
        _get_events_meanwhile(private.url) as latencies,
        RssPeak(private.proc.pid) as rss,
        ThreadPoolExecutor(10) as pool,
    ):
        futures = [
            pool.submit(
                _read_all,
                f"{private.url}/api/app/{'view' if n % 2 else 'download'}_job_log/v1",
                {"id": job_id, "t": token},
                False,
            )
            for n in range(10)
        ]
        results = [f.result() for f in futures]
    for status, size, digest, headers in results:
        assert (status, size, digest) == (200, LOG_BYTES, expected.hexdigest())
        assert headers["content-type"] == "text/plain; charset=utf-8" and headers["cache-control"] == "no-store"
    assert sum("attachment" in r[3].get("content-disposition", "") for r in results) == 5
    assert rss.growth < RSS_GROWTH_LIMIT, f"server RSS grew by {rss.growth / MB:.1f} MB"
    assert latencies and max(latencies) < 2.0, f"get_events took up to {max(latencies or [0]):.3f} s"


@pytest.mark.slow
def test_ten_concurrent_compressed_log_reads_stream(private: Server, papi: Api) -> None:
    """10 concurrent get_job_log reads of a 40 MB (incompressible) gzip log return the file byte for byte while RSS grows < 50 MB."""
    payload = os.urandom(40 * MB)
    job_id = _stored_job_with(private, papi, lambda fh: fh.write(payload), len(payload), level=0)
    path = private.data_dir / "logs" / "jobs" / f"{job_id}.log.gz"
    on_disk = path.read_bytes()
    assert private.proc is not None
    with RssPeak(private.proc.pid) as rss, ThreadPoolExecutor(10) as pool:
        futures = [
            pool.submit(_read_all, f"{private.url}/api/app/get_job_log/v1", {"id": job_id}, True) for _ in range(10)
        ]
        results = [f.result() for f in futures]
    for status, size, digest, headers in results:
        assert (status, size, digest) == (200, len(on_disk), hashlib.sha256(on_disk).hexdigest())
        assert headers["content-encoding"] == "gzip" and headers["x-log-size"] == str(len(payload))
        assert headers["content-length"] == str(len(on_disk))
    assert rss.growth < RSS_GROWTH_LIMIT, f"server RSS grew by {rss.growth / MB:.1f} MB"


def test_head_of_a_log_sends_no_body(private: Server, papi: Api) -> None:
    """HEAD on get_job_log/view_job_log answers the headers of the GET (with its length) and no body."""
    job = run_wait(papi, script_event(papi, "echo head-check")["id"])
    token = papi.ok("get_job", {"id": job["id"]})["token"]
    view = httpx.head(f"{private.url}/api/app/view_job_log/v1", params={"id": job["id"], "t": token})
    assert view.status_code == 200 and view.content == b"" and view.headers["content-length"] == "11"
    raw = httpx.head(
        f"{private.url}/api/app/get_job_log/v1", params={"id": job["id"]}, headers={"X-API-Key": ADMIN_KEY}
    )
    assert (
        raw.status_code == 200 and raw.headers["content-encoding"] == "gzip" and int(raw.headers["content-length"]) > 0
    )


def test_live_log_view_is_a_snapshot(private: Server, papi: Api) -> None:
    """view_job_log of a running job returns the log as it was when asked (partial-log attachment name while active)."""
    marker = private.data_dir / f"go-{time.time_ns()}"
    event = script_event(papi, f"echo before\nwhile [ ! -e {marker} ]; do sleep 0.05; done\necho after")
    job_id = start_job(papi, event["id"])
    wait_state(papi, job_id, "active")
    token = papi.ok("get_job", {"id": job_id})["token"]
    deadline = time.time() + 10
    while papi.ok("tail_live_job_log", {"id": job_id})["text"] != "before\n":
        assert time.time() < deadline
        time.sleep(0.05)
    live = httpx.get(f"{private.url}/api/app/download_job_log/v1", params={"id": job_id, "t": token})
    assert live.status_code == 200 and live.text == "before\n"
    assert f"Cronwright-Partial-Job-Log-{job_id}.txt" in live.headers["content-disposition"]
    marker.touch()
    wait_job(papi, job_id)
    done = httpx.get(f"{private.url}/api/app/view_job_log/v1", params={"id": job_id, "t": token})
    assert done.text == "before\nafter\n"


def _open_stream_without_reading(url: str, path: str) -> socket.socket:
    """An SSE request on a socket with a tiny receive buffer that is then never read."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {ADMIN_KEY}\r\n\r\n".encode())
    return sock


@pytest.mark.slow
def test_stream_job_client_that_stops_reading_is_bounded(private: Server, papi: Api) -> None:
    """A stream_job_log client that never reads while its job prints 64 MB costs the server < 32 MB, and still gets `end` when it reads again."""
    marker = private.data_dir / f"flood-{time.time_ns()}"
    script = (
        f"while [ ! -e {marker} ]; do sleep 0.05; done\n"
        "head -c 64000000 /dev/zero | tr '\\0' 'a' | fold -w 100\necho done-printing"
    )
    job_id = start_job(papi, script_event(papi, script)["id"])
    wait_state(papi, job_id, "active")
    assert private.proc is not None
    with RssPeak(private.proc.pid) as rss:
        sock = _open_stream_without_reading(private.url, f"/api/app/stream_job_log/v1?id={job_id}")
        try:
            sock.settimeout(10)
            received = bytearray()
            while b"\r\n\r\n" not in received:  # headers: the stream is registered; from now on, stop reading
                chunk = sock.recv(4096)
                assert chunk
                received += chunk
            marker.touch()
            job = wait_job(papi, job_id, timeout_s=90)
            assert job["code"] == 0
            grown = rss.growth
            assert grown < 32 * MB, f"server RSS grew by {grown / MB:.1f} MB for one stalled stream"
            sock.settimeout(30)
            while b"event: end\n" not in received:
                chunk = sock.recv(1 << 20)
                assert chunk, "the server closed the stream before sending `end`"
                received += chunk
        finally:
            sock.close()
    assert b"event: log\n" in received and b"characters of output skipped" in received


# ---- JSON depth


def _endpoint_paths() -> list[str]:
    return sorted({f"/api/{e.namespace}/{e.name}/v1" for e in all_endpoints()})


def test_too_deep_json_is_a_400_on_every_endpoint(api: Api, server_url: str) -> None:
    """A request body nested 300 levels deep (beyond what can be re-encoded) is `api` 400 "nested too deeply" on every endpoint, never a 5xx."""
    body = '{"id":"x","title":"t","deep":' + _nested(300) + "}"
    failures = []
    with httpx.Client(base_url=server_url, timeout=30, headers={"X-API-Key": ADMIN_KEY}) as client:
        for path in _endpoint_paths():
            response = client.post(path, content=body, headers={"Content-Type": "application/json"})
            try:
                reply = response.json()
            except ValueError:
                reply = {"text": response.text[:100]}
            wanted = f"Malformed JSON in request body: nested too deeply (limit {MAX_JSON_DEPTH})"
            if (response.status_code, reply.get("code"), reply.get("description")) != (400, "api", wanted):
                failures.append((path, response.status_code, reply))
        unversioned = client.post("/api/app/create_event", content=body, headers={"Content-Type": "application/json"})
    assert not failures, failures[:5]
    assert unversioned.status_code == 200 and unversioned.json()["code"] == "api"


def test_json_depth_limit_boundary(api: Api, server_url: str) -> None:
    """A body of exactly MAX_JSON_DEPTH levels is parsed; one level more is refused with the limit named."""
    inner = MAX_JSON_DEPTH - 1  # the body object itself is the first level
    ok = httpx.post(
        f"{server_url}/api/app/get_events/v1",
        content='{"unused_filter":' + _nested(inner) + "}",
        headers={"Content-Type": "application/json", "X-API-Key": ADMIN_KEY},
    )
    assert ok.status_code == 200 and ok.json()["code"] == 0, ok.text
    deep = httpx.post(
        f"{server_url}/api/app/get_events/v1",
        content='{"unused_filter":' + _nested(inner + 1) + "}",
        headers={"Content-Type": "application/json", "X-API-Key": ADMIN_KEY},
    )
    assert deep.status_code == 400 and f"nested too deeply (limit {MAX_JSON_DEPTH})" in deep.json()["description"]


@pytest.mark.parametrize("record_kind", ["xy", "plain"])
def test_too_deep_plugin_record_is_a_notice(api: Api, record_kind: str) -> None:
    """A plugin output record nested 300 levels deep becomes log text and a notice; the job still completes and is stored."""
    deep = _nested(300)
    record = '{"xy":1,"data":{"deep":' + deep + "}}" if record_kind == "xy" else '{"plain":' + deep + "}"
    event = script_event(api, f"echo before\necho '{record}'\necho after")
    job = run_wait(api, event["id"])
    assert job["code"] == 0 and "deep" not in (job.get("data") or {})
    notices = [row["msg"] for row in job.get("activity") or []]
    assert any(f"nested too deeply (limit {MAX_JSON_DEPTH})" in msg for msg in notices), notices
    token = api.ok("get_job", {"id": job["id"]})["token"]
    text = httpx.get(f"{api.base_url}/api/app/view_job_log/v1", params={"id": job["id"], "t": token}).text
    assert text.startswith("before\n") and text.endswith("after\n") and deep in text


def test_job_feed_is_bounded_and_keeps_complete() -> None:
    """A stalled log stream's pending output stays under its bound: old text is dropped (and counted), other notifications are not kept, `complete` comes last."""

    async def scenario() -> list[tuple[str, Any]]:
        feed = JobFeed(max_log_chars=10_000)
        for n in range(5_000):
            feed.put("log", f"line {n:05d}\n")  # 11 characters each: 55,000 in all
            feed.put("update", {"progress": n / 5_000, f"k{n % 3}": n})
        feed.put("complete", {"id": "j1", "final": True})
        return await feed.take(1)

    pending = asyncio.run(scenario())
    assert [kind for kind, _ in pending] == ["log", "complete"]
    text = pending[0][1]
    assert text.startswith("[45000 characters of output skipped: this stream fell behind]\n")
    assert text.endswith("line 04999\n") and len(text) < 10_100
    assert pending[1][1]["final"] is True


def test_brackets_inside_strings_are_not_nesting() -> None:
    """Only real containers count toward the depth limit: brackets inside strings are text."""
    text = '{"a": "' + "[{" * 500 + '", "b": [[["ok"]]]}'
    assert loads_untrusted(text)["b"] == [[["ok"]]]
    assert loads_untrusted('{"a": [[1]]}', max_depth=3) == {"a": [[1]]}
    with pytest.raises(JSONTooDeep, match=r"nested too deeply \(limit 3\)"):
        loads_untrusted('{"a": [[[1]]]}', max_depth=3)


def test_log_kept_uncompressed_is_served(private: Server, papi: Api) -> None:
    """A completed job whose log could not be compressed (kept as `.log`) is still served: as text, and gzip-compressed on the fly by get_job_log."""
    job = run_wait(papi, script_event(papi, "echo kept")["id"])
    logs = private.data_dir / "logs" / "jobs"
    text = b"kept log line\n" * 50_000
    (logs / f"{job['id']}.log").write_bytes(text)
    (logs / f"{job['id']}.log.gz").unlink()
    token = papi.ok("get_job", {"id": job["id"]})["token"]
    view = httpx.get(f"{private.url}/api/app/view_job_log/v1", params={"id": job["id"], "t": token})
    assert view.status_code == 200 and view.content == text
    with httpx.stream(
        "GET", f"{private.url}/api/app/get_job_log/v1", params={"id": job["id"]}, headers={"X-API-Key": ADMIN_KEY}
    ) as response:
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip" and gzip.decompress(raw) == text


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(alphabet='[]{}"\\ab\u00e9', max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet='[]{}"\\k', max_size=4), inner, max_size=3)
    ),
    max_leaves=30,
)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


@given(_JSON_VALUES, st.integers(min_value=0, max_value=8))
def test_nesting_check_matches_the_real_depth(value: Any, limit: int) -> None:
    """The text-based depth check agrees with the depth of the parsed value, whatever the strings contain."""
    assert nesting_exceeds(orjson.dumps(value), limit) == (_depth(value) > limit)
