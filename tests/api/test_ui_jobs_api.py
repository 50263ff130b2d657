"""The Cronwright extension endpoints of the web UI's job page (docs/ui.md): `get_job_log_range`
(a window of a log by byte offsets) and `stream_job_log_tail` (the end of a log, then live text)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from tests.api.helpers import make_key, run_wait, script_event, start_job, uid, wait_job, wait_state
from tests.support.server import Api

LINES = 3000


def _events(text: str) -> list[tuple[str, Any]]:
    out = []
    for block in text.split("\n\n"):
        kind = data = None
        for line in block.split("\n"):
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
        if kind:
            out.append((kind, data))
    return out


def _big_job(api: Api) -> dict[str, Any]:
    event = script_event(api, f"seq 1 {LINES} | sed 's/.*/line & ünïcode padding/'")
    return run_wait(api, event["id"])


def test_windows_join_at_line_starts_and_cover_the_log(api: Api) -> None:
    """Fetched one before the other, windows of any size rebuild the whole log exactly, each
    beginning at a line start; the default is the end of the log."""
    job = _big_job(api)
    expected = "".join(f"line {i} ünïcode padding\n" for i in range(1, LINES + 1))
    size = len(expected.encode())
    assert job["log_file_size"] == size
    tail = api.ok("get_job_log_range", {"id": job["id"], "bytes": 1000})
    assert tail["end"] == tail["size"] == size and tail["active"] is False
    assert tail["text"].endswith(f"line {LINES} ünïcode padding\n") and tail["text"].startswith("line ")
    assert len(tail["text"].encode()) == tail["end"] - tail["start"] <= 1000
    parts: list[str] = []
    before: int | None = None
    while before != 0:
        params: dict[str, Any] = {"id": job["id"], "bytes": 7777}
        if before is not None:
            params["before"] = before
        window = api.ok("get_job_log_range", params)
        assert window["start"] == 0 or expected.encode()[window["start"] - 1 : window["start"]] == b"\n"
        parts.insert(0, window["text"])
        before = window["start"]
    assert "".join(parts) == expected
    assert api.error("get_job_log_range", {"id": job["id"], "bytes": 2_000_000})[1] == "api"


def test_the_token_or_scope_is_needed(api: Api) -> None:
    """As `view_job_log`: the job's token alone is enough; without it, scope on the job."""
    job = _big_job(api)
    token = api.ok("get_job", {"id": job["id"]})["token"]
    anonymous = api.with_key(None)
    assert anonymous.ok("get_job_log_range", {"id": job["id"], "t": token, "bytes": 100})["text"].endswith("padding\n")
    assert anonymous.error("get_job_log_range", {"id": job["id"], "t": "wrong", "bytes": 100})[0] == 403
    assert anonymous.error("get_job_log_range", {"id": job["id"]})[0] in (401, 403)
    cat = uid("cat")
    api.ok("create_category", {"id": cat, "title": cat})
    outsider, _ = make_key(api, {}, categories=[cat])
    assert outsider.error("get_job_log_range", {"id": job["id"]})[0] == 403


def test_the_tail_stream_of_a_finished_job(api: Api) -> None:
    """`window` (byte offsets), the last `bytes` of the log from a line start, then `end`."""
    job = _big_job(api)
    response = api.http.post(
        "/api/app/stream_job_log_tail/v1",
        json={"id": job["id"], "bytes": 500},
        headers={"X-API-Key": api.key or ""},
    )
    events = _events(response.text)
    assert [kind for kind, _ in events] == ["window", "log", "end"]
    window, text, end = events[0][1], events[1][1], events[2][1]
    assert window["end"] == job["log_file_size"] and window["end"] - window["start"] == len(text.encode()) <= 500
    assert text.startswith("line ") and text.endswith(f"line {LINES} ünïcode padding\n")
    assert end == {"id": job["id"], "code": 0, "description": job.get("description")}


def test_the_tail_stream_of_a_running_job_continues_live(api: Api) -> None:
    """For a running job: the backlog's tail, then each new line as it is printed, then `end`."""
    event = script_event(api, "seq 1 500 | sed 's/.*/early &/'\nsleep 1\necho late one\nsleep 0.5\necho late two\n")
    job_id = start_job(api, event["id"])
    wait_state(api, job_id, "active")
    deadline = time.time() + 10
    while api.ok("get_job", {"id": job_id})["job"].get("log_file_size", 0) < 4000:  # the early lines are out
        assert time.time() < deadline
        time.sleep(0.05)
    with httpx.Client(base_url=api.base_url, timeout=30) as http:
        response = http.post(
            "/api/app/stream_job_log_tail/v1", json={"id": job_id, "bytes": 200}, headers={"X-API-Key": api.key or ""}
        )
    events = _events(response.text)
    assert events[0][0] == "window" and events[-1][0] == "end"
    text = "".join(data for kind, data in events if kind == "log")
    assert "early 1\n" not in text  # only the tail of the backlog
    assert text.endswith("late one\nlate two\n")
    assert wait_job(api, job_id)["code"] == 0
