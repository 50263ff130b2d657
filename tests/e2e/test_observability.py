"""Issue 9 points 6 and 7: the server log (JSON lines, auth failures, access log) and ``/metrics``.

Black-box: real ``cronwright serve`` processes whose merged stdout/stderr is captured; JSON log
lines are the output lines that parse as JSON objects. Waiting is polling with a deadline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.helpers import create_event, run_wait, uid
from tests.conftest import StartServer
from tests.support.server import Server

METRICS_TOKEN = "metrics-token-0123456789abcdef"
PASSWORD = "Sup3r-Secret-Passw0rd-Never-Logged"

Line = dict[str, Any]


def json_lines(server: Server) -> list[Line]:
    """Every output line of ``server`` that is a JSON object."""
    lines = []
    for text in list(server.output):
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except ValueError:
                continue
            if isinstance(value, dict):
                lines.append(value)
    return lines


def wait_line(server: Server, timeout_s: float = 20, **expected: Any) -> Line:
    """The first JSON line holding every ``expected`` key and value, waiting for it to be written."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = [line for line in json_lines(server) if all(line.get(k) == v for k, v in expected.items())]
        if found:
            return found[0]
        assert time.monotonic() < deadline, "no such log line in:\n" + "".join(server.output[-40:])
        time.sleep(0.05)


def scrape(server: Server, token: str | None = METRICS_TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{server.url}/metrics", headers=headers, timeout=30)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """``{(sample name, labels): value}`` of a Prometheus text exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with ``--log-format json``, info level, the access log and token-protected metrics."""
    env = {
        "CRONWRIGHT_LOG_LEVEL": "info",
        "CRONWRIGHT_ACCESS_LOG": "1",
        "CRONWRIGHT_METRICS": "token",
        "CRONWRIGHT_METRICS_TOKEN": METRICS_TOKEN,
    }
    server = Server(tmp_path_factory.mktemp("observed"), env=env, args=["--log-format", "json"])
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def quiet(server_factory: StartServer) -> Server:
    """A server logging JSON through the environment, without access log or metrics (the defaults)."""
    return server_factory("sqlite", env={"CRONWRIGHT_LOG_LEVEL": "info", "CRONWRIGHT_LOG_FORMAT": "json"})


def test_job_launch_and_finish_are_logged_with_fields(observed: Server) -> None:
    """A succeeding and a failing job each log ``job launched`` and ``job finished`` JSON lines with
    job id, event, category, source, code, outcome and elapsed time; the failure at warning level."""
    api = observed.client()
    good = create_event(api, params={"script": "#!/bin/sh\necho fine\n"})
    bad = create_event(api, params={"script": "#!/bin/sh\necho broken >&2\nexit 3\n"})
    ok_job, failed_job = run_wait(api, good["id"]), run_wait(api, bad["id"])
    for job, event in ((ok_job, good), (failed_job, bad)):
        launched = wait_line(observed, msg="job launched", job_id=job["id"])
        assert launched["level"] == "info" and launched["logger"] == "cronwright.jobs"
        assert (launched["event"], launched["category"], launched["source"]) == (event["id"], "general", "key")
        assert launched["ts"].endswith("Z")
    done = wait_line(observed, msg="job finished", job_id=ok_job["id"])
    assert (done["level"], done["code"], done["outcome"], done["event"]) == ("info", 0, "success", good["id"])
    assert isinstance(done["elapsed_s"], (int, float)) and done["elapsed_s"] >= 0
    assert "description" not in done
    failed = wait_line(observed, msg="job finished", job_id=failed_job["id"])
    assert (failed["level"], failed["code"], failed["outcome"]) == ("warning", 3, "error")
    assert failed["category"] == "general" and failed["description"]


def test_failed_login_logs_the_user_name_and_address_never_the_password(observed: Server) -> None:
    """A wrong password logs ``login failed`` with the user name and client IP; the password appears
    nowhere in the output. A wrong API key logs ``authentication failed`` without the key."""
    username = uid("nobody")
    answer = httpx.post(f"{observed.url}/api/user/login", json={"username": username, "password": PASSWORD})
    assert answer.json()["code"] == "login"
    line = wait_line(observed, msg="login failed", username=username)
    assert (line["level"], line["logger"], line["ip"], line["known_user"]) == (
        "warning",
        "cronwright.auth",
        "127.0.0.1",
        False,
    )
    wrong_key = "wrong-key-" + uid("k")
    assert observed.client().with_key(wrong_key).error("get_events")[1] == "session"
    key_line = wait_line(observed, msg="authentication failed", method="api_key")
    assert key_line["ip"] == "127.0.0.1" and key_line["reason"] == "Invalid API Key"
    output = "".join(observed.output)
    assert PASSWORD not in output and wrong_key not in output


def test_access_log_lines_only_when_enabled(observed: Server, quiet: Server) -> None:
    """With ``access_log`` on, a request logs method, endpoint, status and time (no query: its
    ``api_key`` stays out); with it off (the default), no access line is written."""
    secret_query = "query-secret-" + uid("q")
    marker = uid("mark")
    answer = httpx.get(f"{observed.url}/api/app/get_event/v1", params={"id": marker, "api_key": secret_query})
    assert answer.status_code == 403
    line = wait_line(observed, logger="cronwright.access", endpoint="get_event")
    assert (line["method"], line["path"], line["status"], line["ip"]) == (
        "GET",
        "/api/app/get_event/v1",
        403,
        "127.0.0.1",
    )
    assert isinstance(line["elapsed_ms"], (int, float))
    assert secret_query not in "".join(observed.output)

    httpx.get(f"{quiet.url}/api/app/get_events/v1")
    # a later line from the same writer: once it is out, an access line would be out as well
    username = uid("after")
    httpx.post(f"{quiet.url}/api/user/login", json={"username": username, "password": PASSWORD})
    wait_line(quiet, msg="login failed", username=username)
    assert [line for line in json_lines(quiet) if line.get("logger") == "cronwright.access"] == []


def test_metrics_are_refused_without_the_token(observed: Server, quiet: Server) -> None:
    """``/metrics`` answers 401 without a token, 403 with a wrong one (no metrics in either body),
    and 404 when metrics are off (the default)."""
    missing = scrape(observed, token=None)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    wrong = scrape(observed, token=METRICS_TOKEN + "x")
    assert wrong.status_code == 403
    basic = httpx.get(f"{observed.url}/metrics", headers={"Authorization": f"Basic {METRICS_TOKEN}"})
    assert basic.status_code == 401
    for answer in (missing, wrong, basic):
        assert "cronwright_" not in answer.text
    assert scrape(quiet).status_code == 404


def test_metrics_count_jobs_requests_and_database(observed: Server) -> None:
    """After a succeeding and a failing job in a new category, the launch, finish and duration series
    of that category grew by exactly those jobs; requests, statements and gauges are exported."""
    api = observed.client()
    category = uid("cat")
    api.ok("create_category", {"id": category, "title": "Observed"})
    before = samples(scrape(observed).text)
    good = create_event(api, category=category, params={"script": "#!/bin/sh\necho fine\n"})
    bad = create_event(api, category=category, params={"script": "#!/bin/sh\nexit 7\n"})
    run_wait(api, good["id"])
    run_wait(api, bad["id"])
    answer = scrape(observed)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    after = samples(answer.text)
    assert value(after, "cronwright_jobs_launched_total", category=category, source="key") == 2
    assert value(after, "cronwright_jobs_finished_total", category=category, outcome="success") == 1
    assert value(after, "cronwright_jobs_finished_total", category=category, outcome="error") == 1
    assert value(after, "cronwright_job_duration_seconds_count", category=category) == 2
    runs = ("cronwright_http_requests_total", {"endpoint": "run_event", "status": "200"})
    assert value(after, runs[0], **runs[1]) >= value(before, runs[0], **runs[1]) + 2
    statements = "cronwright_db_statement_duration_seconds_count"
    assert value(after, statements, operation="insert") > value(before, statements, operation="insert")
    assert value(after, "cronwright_active_jobs", state="active") == 0
    assert ("cronwright_queue_depth", frozenset()) in after
    assert value(after, "cronwright_http_requests_total", endpoint="metrics", status="200") >= 1


def test_magic_link_tokens_stay_out_of_metrics_and_logs(observed: Server) -> None:
    """A magic link call (and a wrong token) is counted as endpoint ``magic`` and logged with its
    token masked: neither token appears in ``/metrics`` or anywhere in the server output."""
    api = observed.client()
    token = "magic-secret-" + uid("t").replace("_", "-")
    wrong = "magic-wrong-" + uid("t").replace("_", "-")
    create_event(api, triggers=[{"type": "magic", "enabled": True, "key": token}])
    assert httpx.post(f"{observed.url}/api/app/magic/v1/{token}", timeout=30).json()["code"] == 0
    assert httpx.get(f"{observed.url}/api/app/magic/v1/{wrong}", timeout=30).json()["code"] == "api"
    refused = wait_line(observed, method="magic_link", reason="unknown token")
    assert refused["level"] == "warning" and refused["ip"] == "127.0.0.1"
    wait_line(observed, logger="cronwright.access", endpoint="magic")
    paths = {line["path"] for line in json_lines(observed) if line.get("endpoint") == "magic"}
    assert paths == {"/api/app/magic/v1/***"}
    text = scrape(observed).text
    assert value(samples(text), "cronwright_http_requests_total", endpoint="magic", status="200") >= 1
    everything = text + "".join(observed.output)
    assert token not in everything and wrong not in everything


def test_text_format_is_the_default(tmp_path: Path) -> None:
    """Without ``--log-format`` the lines are text: time, level, logger, message, then key=value fields."""
    server = Server(tmp_path, env={"CRONWRIGHT_LOG_LEVEL": "info"}).start()
    try:
        api = server.client()
        job = run_wait(api, create_event(api)["id"])
        deadline = time.monotonic() + 20
        while not any(f"job finished job_id={job['id']}" in line for line in server.output):
            assert time.monotonic() < deadline, "".join(server.output)
            time.sleep(0.05)
        line = next(line for line in server.output if f"job finished job_id={job['id']}" in line)
        assert " INFO cronwright.jobs: job finished " in line and " outcome=success " in line
        assert not any(line.startswith("{") for line in server.output)
    finally:
        server.stop()


T0 = 1924992000  # 2031-01-01 00:00 UTC


def test_scheduler_logs_skipped_fires_and_lateness_per_component_level(tmp_path: Path) -> None:
    """With ``info,cronwright.scheduler=debug`` the scheduler's debug lines (ticks, launched fires with
    their lateness) appear and no other component's; fires missed while the scheduler was not ticking
    are logged once as ``fires skipped`` with the reason; open ``/metrics`` counts fires by status."""
    env = {
        "CRONWRIGHT_TEST_API": "1",
        "CRONWRIGHT_CLOCK_START": str(T0 + 1),
        "CRONWRIGHT_TZ": "UTC",
        "CRONWRIGHT_LOG_LEVEL": "info,cronwright.scheduler=debug",
        "CRONWRIGHT_LOG_FORMAT": "json",
        "CRONWRIGHT_METRICS": "open",
    }
    server = Server(tmp_path, env=env).start()
    try:
        api = server.client()
        wait_line(server, msg="scheduler tick", minute=T0)
        schedule = {"type": "schedule", "enabled": True, "minutes": [10, 20, 30], "timezone": "UTC"}
        event = create_event(api, triggers=[schedule])
        api.ok("test_set_clock", {"now": T0 + 1800 + 1})
        skipped = wait_line(server, msg="fires skipped", event=event["id"])
        assert (skipped["level"], skipped["logger"], skipped["reason"]) == ("info", "cronwright.scheduler", "missed")
        assert (skipped["count"], skipped["first_at"], skipped["last_at"]) == (2, T0 + 600, T0 + 1200)
        fired = wait_line(server, msg="fire launched", event=event["id"])
        assert fired["level"] == "debug" and fired["at"] == T0 + 1800 and 0 <= fired["lateness_s"] < 60
        wait_line(server, msg="job finished", job_id=fired["job_id"])
        debug_elsewhere = [
            line for line in json_lines(server) if line["level"] == "debug" and line["logger"] != "cronwright.scheduler"
        ]
        assert debug_elsewhere == []
        found = samples(httpx.get(f"{server.url}/metrics", timeout=30).text)
        assert value(found, "cronwright_scheduler_fires_total", status="skipped") == 2
        assert value(found, "cronwright_scheduler_fires_total", status="launched") == 1
        assert value(found, "cronwright_scheduler_lateness_seconds_count") == 1
        assert value(found, "cronwright_jobs_launched_total", category="general", source="scheduler") == 1
    finally:
        server.stop()
