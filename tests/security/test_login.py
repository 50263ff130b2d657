"""Issue 8 point 6 (and the login half of point 12): logins cannot stall the server, failed logins
are rate-limited per user name and per client IP, unknown users cost what known ones cost, session
ids are stored hashed, and a password change ends the user's other sessions."""

from __future__ import annotations

import hashlib
import re
import statistics
import threading
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from cronwright.store.sql import tables
from cronwright.store.sql.store import SqlStore
from tests.api.helpers import uid
from tests.conftest import StartServer
from tests.support.server import ADMIN_KEY, Server

PASSWORD = "correct horse battery"
WRONG = "not the password"
#: defaults of login_max_failures_per_user / _per_ip / login_failure_window_s
PER_USER, PER_IP, WINDOW_S = 5, 20, 300
RATE_MESSAGE = re.compile(r"^Too many failed login attempts.*try again in \d+ seconds?\.$")


def user_call(
    server: Server, name: str, params: dict[str, Any], *, key: str | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    """POST ``/api/user/NAME/v1``; returns (HTTP status, body)."""
    all_headers = {"X-API-Key": key} if key else {}
    all_headers.update(headers or {})
    response = httpx.post(f"{server.url}/api/user/{name}/v1", json=params, headers=all_headers, timeout=60)
    return response.status_code, response.json()


def attempt(server: Server, username: str, password: str, **headers: str) -> tuple[int, str]:
    """One login; returns (HTTP status, code) where code is 0 on success."""
    status, body = user_call(server, "login", {"username": username, "password": password}, headers=headers)
    return status, body["code"]


def create_user(server: Server, username: str | None = None) -> str:
    name = username or uid("u")
    status, body = user_call(server, "admin_create", {"username": name, "password": PASSWORD}, key=ADMIN_KEY)
    assert status == 200 and body["code"] == 0, body
    return name


def login_session(server: Server, username: str, password: str = PASSWORD) -> str:
    status, body = user_call(server, "login", {"username": username, "password": password})
    assert status == 200 and body["code"] == 0, body
    return str(body["session_id"])


def works(server: Server, session_id: str) -> bool:
    """Whether a session id still authenticates (``X-Session-ID``)."""
    response = httpx.get(f"{server.url}/api/app/get_tags/v1", headers={"X-Session-ID": session_id}, timeout=30)
    body = response.json()
    assert body["code"] in (0, "session"), body
    return bool(body["code"] == 0)


@pytest.fixture(scope="module")
def login_server(server_factory: StartServer) -> Server:
    """A server of this module's own (the failure counters are per process) with a movable clock."""
    return server_factory("sqlite", env={"CRONWRIGHT_TEST_API": "1"})


_clock_offset_s = {"value": 0.0}


def advance_clock(server: Server, seconds: float) -> None:
    """Move the server's clock forward (``test_set_clock``); offsets add up over the module."""
    _clock_offset_s["value"] += seconds
    response = httpx.post(
        f"{server.url}/api/app/test_set_clock/v1",
        json={"now": time.time() + _clock_offset_s["value"]},
        headers={"X-API-Key": ADMIN_KEY},
        timeout=30,
    )
    assert response.json()["code"] == 0, response.text


@pytest.fixture
def fresh(login_server: Server) -> Server:
    """The module's server with every failure window expired: its clock jumps past the window."""
    advance_clock(login_server, WINDOW_S + 60)
    return login_server


def test_failed_logins_are_limited_per_user(fresh: Server) -> None:
    """After 5 failures for one user name (in any case) its logins answer 429 `rate`, even with the right password."""
    name = create_user(fresh)
    other = create_user(fresh)
    for i in range(PER_USER):
        assert attempt(fresh, name.upper() if i % 2 else name, WRONG) == (403, "login")
    status, body = user_call(fresh, "login", {"username": name, "password": PASSWORD})
    assert (status, body["code"]) == (429, "rate"), body
    assert RATE_MESSAGE.match(body["description"]), body["description"]
    assert "session_id" not in body
    assert attempt(fresh, name.upper(), PASSWORD) == (429, "rate")
    assert attempt(fresh, other, PASSWORD) == (200, 0)


def test_user_limit_ends_with_the_window(fresh: Server) -> None:
    """A user name locked by failures logs in again once the window has passed (server clock moved)."""
    name = create_user(fresh)
    for _ in range(PER_USER):
        assert attempt(fresh, name, WRONG) == (403, "login")
    assert attempt(fresh, name, PASSWORD) == (429, "rate")
    advance_clock(fresh, WINDOW_S / 2)
    assert attempt(fresh, name, PASSWORD) == (429, "rate")
    advance_clock(fresh, WINDOW_S / 2 + 5)
    assert attempt(fresh, name, PASSWORD) == (200, 0)


def test_success_resets_the_user_counter(fresh: Server) -> None:
    """A successful login clears the user name's failures: 4 failures, success, 4 failures are all plain 403s."""
    name = create_user(fresh)
    for _ in range(PER_USER - 1):
        assert attempt(fresh, name, WRONG) == (403, "login")
    assert attempt(fresh, name, PASSWORD) == (200, 0)
    for _ in range(PER_USER - 1):
        assert attempt(fresh, name, WRONG) == (403, "login")
    assert attempt(fresh, name, PASSWORD) == (200, 0)


def test_wrong_old_passwords_count_as_failed_logins(fresh: Server) -> None:
    """Guessing the `old_password` of `update` with a session is limited like logins (429 `rate` after 5 failures)."""
    name = create_user(fresh)
    session = login_session(fresh, name)
    params = {"password": "a brand new secret", "old_password": WRONG}
    for _ in range(PER_USER):
        status, body = user_call(fresh, "update", params, headers={"X-Session-ID": session})
        assert (status, body["code"]) == (403, "login"), body
    params["old_password"] = PASSWORD
    status, body = user_call(fresh, "update", params, headers={"X-Session-ID": session})
    assert (status, body["code"]) == (429, "rate"), body


def test_failed_logins_are_limited_per_ip(fresh: Server) -> None:
    """20 failures from one IP (all different user names) make further logins from it answer 429 `rate`."""
    for _ in range(PER_IP):
        assert attempt(fresh, uid("nobody"), WRONG) == (403, "login")
    name = create_user(fresh)
    status, body = user_call(fresh, "login", {"username": name, "password": PASSWORD})
    assert (status, body["code"]) == (429, "rate") and RATE_MESSAGE.match(body["description"]), body


def test_a_parallel_burst_stays_inside_the_ip_limit(fresh: Server) -> None:
    """40 wrong logins sent at once from one IP get at most 20 password checks (403); the rest answer 429 at once."""
    results: list[tuple[int, str]] = []
    barrier = threading.Barrier(40)

    def one() -> None:
        barrier.wait()
        results.append(attempt(fresh, uid("nobody"), WRONG))

    threads = [threading.Thread(target=one) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(results) == 40 and set(results) <= {(403, "login"), (429, "rate")}, results
    assert results.count((403, "login")) <= PER_IP
    assert results.count((429, "rate")) >= 40 - PER_IP


def test_spoofed_forwarded_for_does_not_evade_the_ip_limit(fresh: Server) -> None:
    """Without trusted proxies a client's own `X-Forwarded-For` is ignored: a new value per attempt is still one IP."""
    for i in range(PER_IP):
        assert attempt(fresh, uid("nobody"), WRONG, **{"X-Forwarded-For": f"198.51.100.{i + 1}"}) == (403, "login")
    assert attempt(fresh, uid("nobody"), WRONG, **{"X-Forwarded-For": "198.51.100.200"}) == (429, "rate")


def test_trusted_proxy_forwarded_for_separates_clients(server_factory: StartServer) -> None:
    """Behind a listed proxy the rightmost untrusted `X-Forwarded-For` address is the client: prepending does not escape."""
    server = server_factory("sqlite", env={"CRONWRIGHT_TRUSTED_PROXIES": "127.0.0.0/8, ::1"})
    for _ in range(PER_IP):
        assert attempt(server, uid("nobody"), WRONG, **{"X-Forwarded-For": "203.0.113.5"}) == (403, "login")
    assert attempt(server, uid("nobody"), WRONG, **{"X-Forwarded-For": "203.0.113.5"}) == (429, "rate")
    assert attempt(server, uid("nobody"), WRONG, **{"X-Forwarded-For": "10.9.9.9, 203.0.113.5"}) == (429, "rate")
    assert attempt(server, uid("nobody"), WRONG, **{"X-Forwarded-For": "203.0.113.6"}) == (403, "login")


def test_login_limits_follow_the_settings(server_factory: StartServer) -> None:
    """`login_max_failures_per_user` / `_per_ip` set the limits (here 2 per user name, 3 per IP)."""
    server = server_factory(
        "sqlite", env={"CRONWRIGHT_LOGIN_MAX_FAILURES_PER_USER": "2", "CRONWRIGHT_LOGIN_MAX_FAILURES_PER_IP": "3"}
    )
    name = create_user(server)
    assert [attempt(server, name, WRONG) for _ in range(3)] == [(403, "login"), (403, "login"), (429, "rate")]
    assert attempt(server, uid("nobody"), WRONG) == (403, "login")
    assert attempt(server, uid("nobody"), WRONG) == (429, "rate")


def test_unknown_users_cost_as_much_as_known_ones(fresh: Server) -> None:
    """A login for an unknown user name takes about as long as a wrong password for a real user (no enumeration by timing)."""
    known = [create_user(fresh) for _ in range(6)]

    def timed(username: str) -> float:
        start = time.perf_counter()
        assert attempt(fresh, username, WRONG) == (403, "login")
        return time.perf_counter() - start

    known_s, unknown_s = [], []
    for name in known:  # interleaved, so load on the machine hits both alike
        known_s.append(timed(name))
        unknown_s.append(timed(uid("ghost")))
    assert statistics.median(unknown_s) >= 0.5 * statistics.median(known_s), (known_s, unknown_s)


def test_login_hashing_does_not_block_other_requests(fresh: Server) -> None:
    """While a burst of logins is being hashed, a `ping` is answered before the burst has finished."""
    names = [create_user(fresh) for _ in range(12)]
    done: list[float] = []
    first = threading.Event()
    barrier = threading.Barrier(len(names))

    def one(name: str) -> None:
        barrier.wait()
        login_session(fresh, name)
        done.append(time.perf_counter())
        first.set()

    threads = [threading.Thread(target=one, args=(n,)) for n in names]
    for thread in threads:
        thread.start()
    assert first.wait(60)
    ping = httpx.get(f"{fresh.url}/api/app/ping/v1", timeout=60)
    ping_done = time.perf_counter()
    for thread in threads:
        thread.join(60)
    assert ping.json()["code"] == 0 and len(done) == len(names)
    assert ping_done < max(done), "ping waited for the whole burst of logins"


# sessions


def session_rows(server: Server) -> list[tuple[str, str]]:
    store = SqlStore.open(server.database_url)
    try:
        with store.engine.connect() as conn:
            return [(row.id, row.doc) for row in conn.execute(select(tables.sessions.c.id, tables.sessions.c.doc))]
    finally:
        store.close()


def test_session_ids_are_stored_hashed(server: Server) -> None:
    """The database keeps only sha256(session id): the plain id is in no row, and it still authenticates."""
    name = create_user(server)
    plain = login_session(server, name)
    rows = session_rows(server)
    assert all(plain not in row_id and plain not in doc for row_id, doc in rows)
    assert hashlib.sha256(plain.encode()).hexdigest() in {row_id for row_id, _ in rows}
    assert works(server, plain)


def test_plain_session_rows_stop_working(server: Server) -> None:
    """A session row written with its plain id (before hashing) no longer authenticates."""
    name = create_user(server)
    plain = "f" * 64 + uid("s")
    store = SqlStore.open(server.database_url)
    try:
        with store.write() as w:
            w.put_session({"id": plain, "username": name, "created": int(time.time()), "expires": time.time() + 3600})
    finally:
        store.close()
    assert not works(server, plain)


def test_own_password_change_ends_other_sessions(server: Server) -> None:
    """`update` with a new password keeps the caller's session and ends the user's other sessions."""
    name = create_user(server)
    mine, other = login_session(server, name), login_session(server, name)
    params = {"password": "a brand new secret", "old_password": PASSWORD}
    status, body = user_call(server, "update", params, headers={"X-Session-ID": mine})
    assert (status, body["code"]) == (200, 0), body
    assert works(server, mine)
    assert not works(server, other)


def test_admin_password_reset_ends_all_sessions(server: Server) -> None:
    """`admin_update` with a password ends every session of that user; other fields leave them alone."""
    name = create_user(server)
    first, second = login_session(server, name), login_session(server, name)
    status, _ = user_call(server, "admin_update", {"username": name, "full_name": "Same sessions"}, key=ADMIN_KEY)
    assert status == 200 and works(server, first) and works(server, second)
    status, _ = user_call(server, "admin_update", {"username": name, "password": "reset by admin"}, key=ADMIN_KEY)
    assert status == 200
    assert not works(server, first) and not works(server, second)
    assert works(server, login_session(server, name, "reset by admin"))


def test_admin_resetting_own_password_keeps_current_session(server: Server) -> None:
    """An administrator changing their own password with `admin_update` keeps this session and ends the others."""
    name = create_user(server)
    user_call(server, "admin_update", {"username": name, "privileges": {"admin": True}}, key=ADMIN_KEY)
    mine, other = login_session(server, name), login_session(server, name)
    status, body = user_call(
        server, "admin_update", {"username": name, "password": "my own new one"}, headers={"X-Session-ID": mine}
    )
    assert (status, body["code"]) == (200, 0), body
    assert works(server, mine) and not works(server, other)
