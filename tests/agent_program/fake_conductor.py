"""A fake conductor for black-box agent tests: the satellite wire (servers-agents.md §5–§6) on one
port of 127.0.0.1, as a Starlette app served by uvicorn in a thread. It records what the agent sends
and reassembles each job's log by ``offset`` the way a real conductor must (only bytes past what it
holds are appended; a chunk that starts past the end is a gap)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from cronwright.agent import protocol

SERVER_ID = "sagenttest000001"
AUTH_TOKEN = "a" * 64
INSTALL_TOKEN = "b" * 64


@dataclass
class JobLog:
    held: bytearray = field(default_factory=bytearray)
    gaps: list[tuple[int, int]] = field(default_factory=list)  # (offset, held length) of chunks past the end
    duplicate_bytes: int = 0


class FakeConductor:
    """Starts on ``start()``; every field below may be read from the test thread under ``lock``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.frames: list[tuple[int, str, dict[str, Any]]] = []  # (connection number, cmd, data)
        self.connections = 0  # WebSocket connection attempts
        self.joins = 0
        self.logs: dict[str, JobLog] = {}
        self.finished: dict[str, dict[str, Any]] = {}
        self.uploads: list[dict[str, Any]] = []
        self.enrolments: list[str] = []
        self.files: dict[str, bytes] = {}
        self.plugins: list[dict[str, Any]] = []
        self.auth_failure: str | None = None
        self.refuse = False  # refuse WebSocket connections (an outage)
        self.finish_status = 200
        self._socket: WebSocket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> FakeConductor:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        app = Starlette(
            routes=[
                WebSocketRoute("/", self._ws),
                Route("/api/app/satellite/config", self._config),
                Route("/api/app/upload_job_file", self._upload, methods=["POST"]),
                Route("/api/app/finish_job", self._finish, methods=["POST"]),
                Route("/files/{path:path}", self._file),
            ]
        )
        config = uvicorn.Config(app, log_level="warning", ws="websockets-sansio", lifespan="off")
        self._server = uvicorn.Server(config)

        def serve() -> None:
            assert self._server is not None
            asyncio.run(self._serve(sock))

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        wait_until(lambda: self._loop is not None and self._server is not None and self._server.started, 10)
        return self

    async def _serve(self, sock: socket.socket) -> None:
        self._loop = asyncio.get_running_loop()
        assert self._server is not None
        await self._server.serve(sockets=[sock])

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(10)

    # -- test controls ---------------------------------------------------------------------------

    def send(self, cmd: str, data: dict[str, Any]) -> None:
        """Send a frame on the current agent socket (waits until it is written)."""
        ws, loop = self._socket, self._loop
        assert ws is not None and loop is not None, "no agent connected"
        asyncio.run_coroutine_threadsafe(ws.send_text(protocol.encode(cmd, data)), loop).result(5)

    def drop(self) -> None:
        """Close the agent's socket (the agent sees a lost connection)."""
        ws, loop = self._socket, self._loop
        if ws is not None and loop is not None:
            asyncio.run_coroutine_threadsafe(ws.close(1011), loop).result(5)

    def sent(self, cmd: str) -> list[dict[str, Any]]:
        with self.lock:
            return [data for _, kind, data in self.frames if kind == cmd]

    def sent_on(self, cmd: str) -> list[tuple[int, dict[str, Any]]]:
        """``(connection number, data)`` of every ``cmd`` frame received."""
        with self.lock:
            return [(number, data) for number, kind, data in self.frames if kind == cmd]

    def log_text(self, job_id: str) -> str:
        with self.lock:
            return bytes(self.logs.get(job_id, JobLog()).held).decode("utf-8", "replace")

    # -- the socket ------------------------------------------------------------------------------

    async def _ws(self, ws: WebSocket) -> None:
        with self.lock:
            self.connections += 1
            number = self.connections
            refuse = self.refuse
        if refuse:
            await ws.close()
            return
        await ws.accept()
        joined = False
        try:
            while True:
                frame = protocol.decode(await ws.receive_text())
                if frame is None:
                    continue
                cmd, data = frame
                self._record(number, cmd, data)
                if cmd == protocol.HELLO:
                    await ws.send_text(protocol.encode(protocol.HELLO, {"nonce": "c" * 64, "id": data.get("id")}))
                elif cmd == protocol.JOIN:
                    if self.auth_failure is not None or data.get("token") != AUTH_TOKEN:
                        description = self.auth_failure or "Invalid authentication token."
                        await ws.send_text(protocol.encode(protocol.AUTH_FAILURE, {"description": description}))
                        await ws.close()
                        return
                    joined = True
                    self._socket = ws
                    with self.lock:
                        self.joins += 1
                    await ws.send_text(
                        protocol.encode(
                            protocol.JOINED,
                            {
                                "config": {"child_kill_timeout": 2},
                                "masterData": {"masters": [self.url]},
                                "groups": [],
                                "plugins": self.plugins,
                                "numServers": 1,
                                "features": {"api_finish_job": True},
                            },
                        )
                    )
        except WebSocketDisconnect:
            pass
        finally:
            if joined and self._socket is ws:
                self._socket = None

    def _record(self, number: int, cmd: str, data: dict[str, Any]) -> None:
        with self.lock:
            self.frames.append((number, cmd, data))
            if cmd == protocol.JOB_LOG:
                job_log = self.logs.setdefault(data["id"], JobLog())
                chunk = data["text"].encode("utf-8")
                offset = data["offset"]
                held = len(job_log.held)
                if offset > held:
                    job_log.gaps.append((offset, held))
                    return
                job_log.duplicate_bytes += min(held - offset, len(chunk))
                job_log.held += chunk[held - offset :]

    # -- HTTP ------------------------------------------------------------------------------------

    async def _config(self, request: Request) -> Response:
        token = request.query_params.get("t", "")
        with self.lock:
            self.enrolments.append(token)
        if token != INSTALL_TOKEN:
            return JSONResponse({"code": "satellite", "description": "Access denied."}, status_code=403)
        return JSONResponse(
            {"server_id": SERVER_ID, "auth_token": AUTH_TOKEN, "hosts": [self.url], "initial": {"title": "Test"}}
        )

    async def _file(self, request: Request) -> Response:
        content = self.files.get("files/" + request.path_params["path"])
        return Response(content, 200) if content is not None else Response(b"not found", 404)

    async def _upload(self, request: Request) -> Response:
        async with request.form() as form:
            upload = form["file1"]
            assert not isinstance(upload, str)
            content = await upload.read()
            record = {key: form.get(key) for key in ("id", "auth", "server")}
            record.update(filename=upload.filename, content=content)
        with self.lock:
            self.uploads.append(record)
        key = f"files/jobs/{record['id']}/R/{upload.filename}"
        return JSONResponse({"code": 0, "key": key, "size": len(content)})

    async def _finish(self, request: Request) -> Response:
        body = await request.json()
        if self.finish_status != 200:
            return JSONResponse({"code": "busy"}, status_code=self.finish_status)
        with self.lock:
            self.finished[body["id"]] = body
        return JSONResponse({"code": 0})


def wait_until(condition: Callable[[], Any], timeout_s: float, what: str = "condition") -> Any:
    """Poll ``condition`` until it is truthy (its value) or fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
