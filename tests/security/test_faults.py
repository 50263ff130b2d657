"""Faults end jobs, never freeze them (issue 8 point 10): a full disk, a database that drops its
connections or goes away, and finishing steps that fail.

Disk faults use a small tmpfs mounted over the server's data directory (or only its job logs);
database faults on PostgreSQL forbid connections to the server's database and terminate its
backends. Every wait is on a condition with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gzip
import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import sqlalchemy.exc

from cronwright.config import load_settings
from cronwright.engine.activity import Origin
from cronwright.engine.conductor import Conductor
from cronwright.engine.identity import Identity
from cronwright.engine.jobs import dispatch as dispatch_module
from cronwright.engine.jobs.logstore import LogStore
from cronwright.store.base import StoreUnavailable
from cronwright.store.sql.store import UNAVAILABLE, SqlStore
from tests.api.helpers import run_wait, script_event, start_job, uid, wait_job, wait_state
from tests.conftest import StartServer, require_backend
from tests.support.server import ADMIN_KEY, PG_ADMIN_URL, Server, temporary_pg_database

#: words that betray SQL text or a driver's message in something a client can read
LEAKS = ("select ", "insert ", "update ", "[sql", "psycopg", "sqlalchemy", "sqlite3", "operationalerror", "backend")
ADMIN = Identity(kind="user", username="admin", title="admin", privileges={"admin": True})


# ---- helpers -------------------------------------------------------------------------------


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` (created), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def remount(path: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True)


def fill(directory: Path) -> Path:
    """Write a filler file in ``directory`` until its filesystem is full."""
    filler = directory / "filler"
    block = b"\0" * 65536
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(block)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    with open(filler, "ab", buffering=0) as fh, contextlib.suppress(OSError):  # the last bytes, one by one
        while fh.write(b"\0"):
            pass
    return filler


def wait_for(condition: Callable[[], Any], what: str, timeout_s: float = 30) -> Any:
    deadline = time.time() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def never_internal(status: int, body: dict[str, Any]) -> None:
    """An answer during a fault: success, or a clean ``db`` error; never ``internal``/500."""
    assert status != 500 and body.get("code") != "internal", body
    if body.get("code") != 0:
        assert status == 503 and body.get("code") == "db", body
        assert not any(word in body["description"].lower() for word in LEAKS), body


def assert_clean(job: dict[str, Any]) -> None:
    """Nothing a client reads about the job carries SQL or a driver message."""
    text = json.dumps({k: job.get(k) for k in ("description", "activity", "actions")}).lower()
    assert not any(word in text for word in LEAKS), text


def notes(job: dict[str, Any]) -> list[str]:
    return [row.get("msg", "") for row in job.get("activity") or []]


@contextlib.contextmanager
def pg_outage(db_url: str) -> Iterator[None]:
    """The server's PostgreSQL database refuses new connections and its open ones are terminated."""
    name = db_url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        terminate_backends(db_url)
    try:
        yield
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


def terminate_backends(db_url: str) -> int:
    name = db_url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchone()
    return int(row[0]) if row else 0


def stored_job(db_file: Path, job_id: str) -> dict[str, Any] | None:
    """The job's row as stored in a SQLite database (read-only, without the server's help)."""
    with contextlib.closing(sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=5)) as conn:
        row = conn.execute("SELECT doc FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return json.loads(row[0]) if row else None


# ---- a full disk ---------------------------------------------------------------------------


def test_full_log_disk_ends_the_job_with_a_clear_error_and_recovers(
    server_factory: StartServer, tmp_path: Path
) -> None:
    """A job whose log no longer fits on the disk is ended with "Job log could not be written: No
    space left on device." while the API keeps answering; once there is room again, new jobs run
    and the cut log is compressed, without a restart."""
    data_dir = tmp_path / "data"
    logs = data_dir / "logs" / "jobs"
    with tmpfs(logs, "1m"):
        server = server_factory("sqlite", data_dir=data_dir)
        try:
            api = server.client()
            event = script_event(api, "head -c 3000000 /dev/zero | tr '\\0' x | fold -w 100\nsleep 60")
            job_id = start_job(api, event["id"])
            job = wait_job(api, job_id, timeout_s=45)
            assert job["code"] == "abort", job
            assert job["description"] == "Job log could not be written: No space left on device.", job
            assert job["elapsed"] < 40  # its process was stopped, it did not sleep on
            assert_clean(job)
            remount(logs, "64m")
            after = run_wait(api, script_event(api, "echo after-space")["id"])
            assert after["code"] == 0 and "after-space" in api.ok("get_job", {"id": after["id"]})["job"]["output"]
            wait_for(lambda: (logs / f"{job_id}.log.gz").exists(), "the cut log to be compressed")
            assert not (logs / f"{job_id}.log").exists()
        finally:
            server.stop()


def test_abort_and_dead_job_check_finalize_when_the_log_cannot_be_compressed(
    server_factory: StartServer, tmp_path: Path
) -> None:
    """With the log disk full, ``abort_job`` and the dead-job check still bring running jobs to a
    final record (the log is kept uncompressed and the meta log says so); after space returns, new
    jobs run and the kept logs are compressed, without a restart."""
    data_dir = tmp_path / "data"
    logs = data_dir / "logs" / "jobs"
    env = {"CRONWRIGHT_DEAD_JOB_TIMEOUT_S": "5", "CRONWRIGHT_JOB_SAMPLE_INTERVAL_S": "0"}
    with tmpfs(logs, "4m"):
        server = server_factory("sqlite", env=env, data_dir=data_dir)
        try:
            api = server.client()
            alive = script_event(api, 'echo started\nwhile :; do echo \'{"xy":1,"progress":0.5}\'; sleep 0.3; done')
            silent = script_event(api, "echo started\nexec sleep 60")
            to_abort, dead = start_job(api, alive["id"]), start_job(api, silent["id"])
            for job_id in (to_abort, dead):
                wait_for(lambda j=job_id: (logs / f"{j}.log").is_file() and (logs / f"{j}.log").stat().st_size, "log")
            filler = fill(logs)
            assert api.ok("get_job", {"id": dead})["job"]["state"] == "active"  # not yet found dead
            api.ok("abort_job", {"id": to_abort})
            aborted, ended = wait_job(api, to_abort), wait_job(api, dead, timeout_s=45)
            assert aborted["code"] == "abort" and "aborted" in aborted["description"].lower(), aborted
            assert ended["code"] == "abort" and "assuming job is dead" in ended["description"], ended
            for job in (aborted, ended):
                assert any(n.startswith("Job log could not be compressed") for n in notes(job)), notes(job)
                assert_clean(job)
            filler.unlink()
            fine = run_wait(api, script_event(api, "echo fine")["id"])
            assert fine["code"] == 0 and api.ok("get_job", {"id": fine["id"]})["job"]["output"] == "fine\n"
            for job_id in (to_abort, dead):
                wait_for(lambda j=job_id: (logs / f"{j}.log.gz").exists(), "the kept log to be compressed")
        finally:
            server.stop()


def test_database_on_a_full_disk_answers_503_db_and_keeps_the_final_record(
    server_factory: StartServer, tmp_path: Path
) -> None:
    """With the SQLite database on a full disk, writes (and uploads) answer 503 ``db`` with a clean
    message (never ``internal``), a job that ends meanwhile keeps its final record pending, and once
    space returns the record is stored and everything works without a restart."""
    data_dir = tmp_path / "data"
    go = tmp_path / "go"
    with tmpfs(data_dir, "24m"):
        server = server_factory("sqlite", data_dir=data_dir)
        try:
            api = server.client()
            event = script_event(api, f"while [ ! -f {go} ]; do sleep 0.1; done")
            job_id = start_job(api, event["id"])
            wait_state(api, job_id, "active")
            filler = fill(data_dir)
            failure = None
            for _ in range(3000):  # the first writes may still fit into the WAL file
                status, body = api.call("create_tag", {"id": uid("tag"), "title": "T"})
                never_internal(status, body)
                if body["code"] != 0:
                    failure = body
                    break
            assert failure is not None, "every write succeeded on a full disk"
            never_internal(*api.call("get_event", {"id": event["id"]}))
            upload = httpx.post(
                f"{server.url}/api/app/run_event/v1",
                data={"json": json.dumps({"id": event["id"]})},
                files={"file1": ("big.bin", b"x" * 1024 * 1024)},
                headers={"X-API-Key": ADMIN_KEY},
            )
            never_internal(upload.status_code, upload.json())
            assert upload.json()["code"] == "db", upload.json()
            go.touch()
            done = wait_job(api, job_id)  # final in memory; the database still refuses the record
            assert done["code"] == 0, done
            filler.unlink()
            wait_for(lambda: (stored_job(data_dir / "cronwright.db", job_id) or {}).get("final"), "the final record")
            stored = stored_job(data_dir / "cronwright.db", job_id)
            assert stored is not None and stored["code"] == 0
            api.ok("create_tag", {"id": uid("tag"), "title": "After"})
            assert run_wait(api, script_event(api, "echo ok")["id"])["code"] == 0
        finally:
            server.stop()


def test_logs_left_uncompressed_before_a_restart_are_compressed_at_start(tmp_path: Path) -> None:
    """At start, the live log of a finished job (its compression failed on a full disk before the
    restart) is compressed; the live log of a job that is not finished (running here or under
    another conductor sharing the directory, or unknown to this database) is left alone."""
    logs = LogStore(tmp_path)
    (tmp_path / "jkept.log").write_bytes(b"kept\n")
    (tmp_path / "jrunning.log").write_bytes(b"running\n")
    assert logs.adopt_kept(lambda job_id: job_id == "jkept") == 1
    logs.compress_pending()
    assert gzip.decompress((tmp_path / "jkept.log.gz").read_bytes()) == b"kept\n"
    assert not (tmp_path / "jkept.log").exists() and (tmp_path / "jrunning.log").read_bytes() == b"running\n"


# ---- the database goes away ----------------------------------------------------------------


@pytest.mark.postgresql
def test_database_outage_never_fails_jobs_and_the_api_answers_503_db(server_factory: StartServer) -> None:
    """While PostgreSQL refuses every connection, the API answers 503 ``db`` (never ``internal``),
    a running job still ends with code 0 and a queued one waits for the database (its meta log
    says so) and then runs; no job description carries SQL or a driver message, and dropped
    connections are replaced without a restart."""
    server: Server = server_factory("postgresql")
    api = server.client()
    go = Path(server.data_dir) / "go"
    limits = [{"enabled": True, "type": "job", "amount": 1}, {"enabled": True, "type": "queue", "amount": 5}]
    event = script_event(api, f"while [ ! -f {go} ]; do sleep 0.1; done\necho done", limits=limits)
    first = start_job(api, event["id"])
    wait_state(api, first, "active")

    def get(job_id: str) -> dict[str, Any]:
        return api.ok("get_job", {"id": job_id})["job"]

    second = start_job(api, event["id"])
    wait_state(api, second, "queued")
    assert server.db_url
    with pg_outage(server.db_url):
        never_internal(*api.call("get_job", {"id": uid("missing")}))
        status, body = api.call("run_event", {"id": event["id"]})
        never_internal(status, body)
        assert body["code"] == "db" and body["description"] == UNAVAILABLE
        go.touch()
        wait_for(lambda: get(first).get("final"), "the first job to end")
        wait_for(lambda: any(n.startswith("Waiting for the database") for n in notes(get(second))), "a wait")
        never_internal(*api.call("get_job", {"id": second}))
    jobs = [wait_job(api, job_id, timeout_s=60) for job_id in (first, second)]
    for job in jobs:
        assert job["code"] == 0, job
        assert_clean(job)
    terminate_backends(server.db_url)
    api.ok("get_event", {"id": event["id"]})  # a dropped connection is replaced at once
    assert run_wait(api, event["id"])["code"] == 0


@pytest.fixture
def pg_store() -> Iterator[tuple[SqlStore, str]]:
    require_backend("postgresql")
    with temporary_pg_database() as url:
        store = SqlStore.open(url)
        try:
            yield store, url
        finally:
            store.close()


@pytest.mark.postgresql
def test_a_transaction_whose_connection_drops_is_retried(pg_store: tuple[SqlStore, str]) -> None:
    """``transact`` re-runs a transaction whose connection was terminated half-way, and a plain
    ``write`` block that loses its connection raises a clean ``StoreUnavailable``."""
    store, url = pg_store
    attempts: list[int] = []

    def work(writer: Any) -> int:
        attempts.append(1)
        writer.set_kv("first", len(attempts))
        if len(attempts) == 1:
            terminate_backends(url)
        writer.set_kv("second", len(attempts))
        return len(attempts)

    assert store.transact(work) == 2
    assert store.get_kv("first") == 2 and store.get_kv("second") == 2
    with pytest.raises(StoreUnavailable) as caught, store.write() as w:
        w.set_kv("third", 1)
        terminate_backends(url)
        w.set_kv("fourth", 1)
    assert str(caught.value) == UNAVAILABLE
    assert store.get_kv("third") is None


@pytest.mark.postgresql
def test_store_errors_name_no_sql_and_recover_by_themselves(pg_store: tuple[SqlStore, str]) -> None:
    """While the database is unreachable, reads and writes raise ``StoreUnavailable`` with a generic
    message; afterwards the same store works again."""
    store, url = pg_store
    store.get_kv("warm")
    with pg_outage(url):
        for call in (lambda: store.get_kv("x"), lambda: store.transact(lambda w: w.set_kv("x", 1))):
            with pytest.raises(StoreUnavailable) as caught:
                call()
            assert str(caught.value) == UNAVAILABLE
            assert not any(word in repr(caught.value).lower() for word in LEAKS)
    store.transact(lambda w: w.set_kv("x", 2))
    assert store.get_kv("x") == 2


def _driver_error(message: str) -> sqlalchemy.exc.OperationalError:
    return sqlalchemy.exc.OperationalError(
        "INSERT INTO kv VALUES (?)", {"secret": 1}, sqlite3.OperationalError(message)
    )


def test_sqlite_lock_errors_are_retried_and_a_full_disk_is_not(tmp_path: Path) -> None:
    """A ``database is locked`` failure re-runs the transaction; ``database or disk is full`` fails
    at once with a clean message naming neither the statement nor its parameters."""
    store = SqlStore.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        attempts: list[int] = []

        def locked_once(writer: Any) -> None:
            attempts.append(1)
            writer.set_kv("k", len(attempts))
            if len(attempts) == 1:
                raise _driver_error("database is locked")

        store.transact(locked_once)
        assert len(attempts) == 2 and store.get_kv("k") == 2

        full: list[int] = []

        def disk_full(writer: Any) -> None:
            full.append(1)
            raise _driver_error("database or disk is full")

        with pytest.raises(StoreUnavailable) as caught:
            store.transact(disk_full)
        assert len(full) == 1
        text = str(caught.value)
        assert "full" in text and not any(word in text.lower() for word in (*LEAKS, "secret", "kv"))
    finally:
        store.close()


# ---- finishing always ends ------------------------------------------------------------------


def _conductor(tmp_path: Path, **settings: Any) -> Conductor:
    values = {"data_dir": str(tmp_path), **{k: str(v) for k, v in settings.items()}}
    return Conductor.open(load_settings(values, environ={"CRONWRIGHT_ADMIN_KEY": "x"}))


def _event(conductor: Conductor, script: str) -> dict[str, Any]:
    payload = {
        "title": "t",
        "enabled": True,
        "category": "general",
        "targets": ["main"],
        "algo": "random",
        "plugin": "shellplug",
        "params": {"script": "#!/bin/sh\n" + script},
    }
    return conductor.events.create_event(payload, lambda: ADMIN, Origin.internal())


def test_a_failing_finishing_step_still_stores_a_clean_final_record(tmp_path: Path) -> None:
    """When a finishing step raises (here: launching a retry), the job still gets its final record,
    with a generic note instead of the exception's text."""

    async def scenario() -> None:
        conductor = _conductor(tmp_path)
        await conductor.jobs.start()
        try:

            def broken(job: dict[str, Any], now: float) -> None:
                raise RuntimeError("SELECT secret FROM api_keys")

            conductor.jobs.finisher._retry = broken  # type: ignore[method-assign]
            event = _event(conductor, "echo hi")
            job = conductor.jobs.launch({**event, "source": "user", "username": "admin"})[0]
            final = await asyncio.wait_for(conductor.jobs.observers.wait_for(job["id"]), 30)
            stored = conductor.store.get_job(job["id"])
            assert stored is not None and stored["final"] and final["id"] == job["id"]
            assert_clean(stored)
            assert any("could not be completed" in n for n in notes(stored)), notes(stored)
        finally:
            await conductor.jobs.stop()
            conductor.close()

    asyncio.run(scenario())


def test_abort_finalizes_a_job_whose_process_never_goes_away(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An aborted job whose run never reports back (a process stuck in the kernel) is finalized
    anyway once the kill grace period is over, and its final record says so."""
    monkeypatch.setattr(dispatch_module, "ABORT_GRACE_S", 1.0)

    async def scenario() -> None:
        conductor = _conductor(tmp_path, child_kill_timeout_s=0.5)
        await conductor.jobs.start()
        engine = conductor.jobs
        real_abort = None
        try:
            job = engine.launch({**_event(conductor, "sleep 60"), "source": "user", "username": "admin"})[0]
            run = None
            while run is None or run.pid is None:
                await asyncio.sleep(0.05)
                run = engine.dispatcher.runs.get(job["id"])
            real_abort = run.abort
            run.abort = lambda reason: None  # type: ignore[method-assign]  # the process ignores us
            assert engine.abort(job["id"], "Stop now.")
            final = await asyncio.wait_for(engine.observers.wait_for(job["id"]), 30)
            assert final["code"] == "abort" and final["description"].startswith("Stop now."), final
            assert "did not exit" in final["description"]
            stored = conductor.store.get_job(job["id"])
            assert stored is not None and stored["final"]
        finally:
            if real_abort is not None:
                real_abort("cleanup")
            await engine.stop()
            conductor.close()

    asyncio.run(scenario())
