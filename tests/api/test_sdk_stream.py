"""Issue 10 point 1: `stream_job` speaks xyOps' wire format (sdk-wire.md §1), read the way the
official SDK reads it (only `data:` lines whose JSON has `xy`); `stream_job_log` (a Cronwright
extension) carries the log text; `tail_live_job_log` as the SDK calls it (POST JSON)."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.api.helpers import create_event, run_wait, script_event, start_job, uid, wait_job, wait_state
from tests.support.server import ADMIN_KEY, Api

#: a 4 s job that reports progress twice, sets a status and redraws an html section
PROGRESS_SCRIPT = """
sleep 0.6
echo '{"xy":1,"progress":0.25,"status":"quarter"}'
sleep 1.2
echo '{"xy":1,"progress":0.5,"status":"half","html":{"title":"H","content":"<b onclick=\\"x()\\">b</b><script>alert(1)</script>","caption":"c"}}'
sleep 2.2
echo '{"xy":1,"code":0,"description":"all done"}'
"""


@dataclass
class Stream:
    """One `stream_job` response as received: raw lines with arrival times, and what the SDK's
    iterator would be called with."""

    status: int
    content_type: str
    lines: list[tuple[float, str]] = field(default_factory=list)
    ended_at: float = 0.0

    @property
    def sdk_objects(self) -> list[dict[str, Any]]:
        """SDK `streamJob`: every `^data:\\s*(.*)$` line parsed as JSON, kept when `xy` is truthy."""
        found = []
        for _, line in self.lines:
            if line.startswith("data:"):
                data = json.loads(line[5:].strip())
                if isinstance(data, dict) and data.get("xy"):
                    found.append(data)
        return found

    @property
    def events(self) -> list[tuple[float, str, Any]]:
        """(time, event name, data) per event, asserting the exact three-line framing."""
        result = []
        rows = self.lines
        assert len(rows) % 3 == 0, [line for _, line in rows]
        for index in range(0, len(rows), 3):
            (at, name), (_, data), (_, blank) = rows[index : index + 3]
            assert name.startswith("event: ") and data.startswith("data: ") and blank == "", (name, data, blank)
            result.append((at, name[7:], json.loads(data[6:])))
        return result


def read_stream(base_url: str, job_id: str, *, key: str | None = ADMIN_KEY, **params: Any) -> Stream:
    headers = {"X-API-Key": key} if key else {}
    with httpx.stream(
        "GET", f"{base_url}/api/app/stream_job", params={"id": job_id, **params}, headers=headers, timeout=30
    ) as response:
        stream = Stream(response.status_code, response.headers.get("content-type", ""))
        for line in response.iter_lines():
            stream.lines.append((time.time(), line))
        stream.ended_at = time.time()
    return stream


def test_sdk_sees_progress_and_the_final_code(api: Api) -> None:
    """sdk-wire.md §7 check 1 and 3: ≥ 3 `xy` objects; the first has id, started, state and
    progress; some progress between 0 and 1; the last has code, description, completed, elapsed
    and arrives within 1.5 s of completion; `status` is never sent; the framing is exact."""
    event = script_event(api, PROGRESS_SCRIPT)
    job_id = start_job(api, event["id"])
    stream = read_stream(api.base_url, job_id)
    assert stream.status == 200 and stream.content_type.startswith("text/event-stream")
    assert not any(line.startswith(":") for _, line in stream.lines)
    events = stream.events
    names = [name for _, name, _ in events]
    assert names[0] == "start" and names[-1] == "end" and set(names[1:-1]) == {"update"}, names
    assert events[0][2] == {} and events[-1][2] == {}
    objects = stream.sdk_objects
    assert len(objects) >= 3 and all(o["xy"] == 1 and next(iter(o)) == "xy" for o in objects)
    first, final = objects[0], objects[-1]
    assert first["id"] == job_id and {"started", "state", "progress"} <= first.keys()
    assert any(0 < o.get("progress", 0) < 1 for o in objects[:-1])
    assert all("status" not in o for o in objects)
    assert final == {
        "xy": 1,
        "id": job_id,
        "code": 0,
        "description": "all done",
        "completed": final["completed"],
        "elapsed": final["elapsed"],
        "html": final["html"],
        "data": {},
        "files": [],
    }
    assert stream.ended_at - final["completed"] <= 1.5
    live = [at for at, name, data in events if name == "update" and "code" not in data]
    gaps = [b - a for a, b in itertools.pairwise(live)]
    assert gaps and min(gaps) >= 0.8, gaps  # one update a second, not pushed on every change
    assert max(gaps) < 3, gaps  # ... and never silent for long (the SDK's idle timeout is 30 s)


def test_live_updates_follow_xyops_rules(api: Api) -> None:
    """`state` only when it changes, `redraw` with the sanitized `html` when the plugin sends one,
    cpu/mem repeated, `server` once; `label`, `data` and log text never live."""
    event = script_event(api, PROGRESS_SCRIPT)
    job_id = start_job(api, event["id"])
    objects = read_stream(api.base_url, job_id).sdk_objects
    live = objects[:-1]
    assert sum("state" in o for o in live) == len({o["state"] for o in live if "state" in o})
    assert sum("server" in o for o in live) == 1 and "server" in live[0]
    assert all("id" not in o and "started" not in o for o in live[1:])
    redrawn = [o for o in live if "redraw" in o]
    assert redrawn, live
    html = redrawn[-1]["html"]
    assert html["title"] == "H" and html["caption"] == "c"
    assert "<b>b</b>" in html["content"] and "script" not in html["content"] and "onclick" not in html["content"]
    assert any("cpu" in o and "mem" in o for o in live)
    assert all(not {"label", "data", "files", "code", "description", "status"} & o.keys() for o in live)


def test_completed_job_answers_at_once(api: Api) -> None:
    """§7 check 2: start, one final update (no `progress`), end."""
    script = """echo '{"xy":1,"data":{"rows":3},"table":{"rows":[[1]]}}'\necho out > result.txt\necho '{"xy":1,"files":["result.txt"]}'"""
    job = run_wait(api, script_event(api, script)["id"])
    started = time.time()
    stream = read_stream(api.base_url, job["id"])
    assert stream.ended_at - started < 5
    events = stream.events
    assert [name for _, name, _ in events] == ["start", "update", "end"]
    final = events[1][2]
    assert "progress" not in final and final["code"] == 0 and final["id"] == job["id"]
    assert final["data"] == {"rows": 3} and final["table"] == {"rows": [[1]]}
    assert [f["filename"] for f in final["files"]] == ["result.txt"]
    assert not {"tags", "state", "status", "output", "retried"} & final.keys()


def test_unknown_job_and_tokens(api: Api) -> None:
    """§7 check 4: an unknown id with credentials is `notfound` (404 on /v1, 200 unversioned); a
    wrong `token` is refused even with a valid key; the right token (from `magic`) needs no
    credentials; an unknown id with a right token streams an error final update."""
    missing = uid("j")
    detail = (
        f"Failed to load job details: {missing}: Error: Failed to fetch key: unbase/records/jobs/{missing}: Not found"
    )
    assert api.call("stream_job", {"id": missing}, method="GET") == (
        404,
        {"code": "notfound", "description": detail},
    )
    assert api.call("stream_job", {"id": missing}, method="GET", versioned=False) == (
        200,
        {"code": "notfound", "description": detail},
    )
    status, body = api.call("stream_job", {"id": missing, "token": "f" * 64}, method="GET")
    assert (status, body["code"], body["description"]) == (400, "api", "Authentication failed.")
    anonymous = api.with_key(None)
    assert anonymous.call("stream_job", {"id": missing}, method="GET")[1]["code"] == "session"

    key = "stream-magic-" + uid("k")
    event = create_event(
        api,
        triggers=[{"type": "magic", "enabled": True, "key": key}],
        params={"script": '#!/bin/sh\nsleep 1.5\necho \'{"xy":1,"code":0}\''},
    )
    started = httpx.post(f"{api.base_url}/api/app/magic/v1/{key}", json={}, timeout=30).json()
    assert started["code"] == 0 and len(started["stream"]) == 64, started
    objects = read_stream(api.base_url, started["id"], key=None, token=started["stream"]).sdk_objects
    assert objects[0]["id"] == started["id"] and objects[-1]["code"] == 0
    other = read_stream(api.base_url, missing, key=None, token=started["stream"])
    assert other.status == 200 and other.sdk_objects == []  # the token of one job opens no other
    assert json.loads(other.lines[0][1]) == {"code": "api", "description": "Authentication failed."}
    assert event["id"]


def test_out_of_scope_caller_is_refused(api: Api) -> None:
    """Without a token the caller needs scope on the job's category."""
    category = api.ok("create_category", {"id": uid("cat"), "title": "Secret"})["category"]
    job = run_wait(api, script_event(api, "true", category=category["id"])["id"])
    body = api.ok("create_api_key", {"title": uid("key"), "privileges": {}, "roles": [], "categories": ["general"]})
    limited = api.with_key(body["plain_key"])
    status, answer = limited.call("stream_job", {"id": job["id"]}, method="GET")
    assert status == 403 and answer["code"] == "access", answer


def test_final_update_of_a_deleted_job_is_an_error(api: Api) -> None:
    """A queued job flushed from its queue has no stored record: the stream ends with the error
    final update instead of hanging."""
    event = script_event(
        api,
        "sleep 30",
        limits=[{"type": "job", "enabled": True, "amount": 1}, {"type": "queue", "enabled": True, "amount": 5}],
    )
    running = start_job(api, event["id"])
    wait_state(api, running, "active")
    queued = start_job(api, event["id"])
    wait_state(api, queued, "queued")
    with httpx.stream(
        "GET", f"{api.base_url}/api/app/stream_job", params={"id": queued}, headers={"X-API-Key": ADMIN_KEY}, timeout=30
    ) as response:
        objects = []
        for line in response.iter_lines():
            if line.startswith("data:") and (data := json.loads(line[5:])).get("xy"):
                objects.append(data)
                if len(objects) == 1:
                    assert data["state"] == "queued" and data.get("position") == 1
                    api.ok("flush_event_queue", {"id": event["id"]})
    assert objects[-1]["error"] is True and objects[-1]["code"] == 1
    assert objects[-1]["description"].startswith(
        f"Failed to load job data: Error: Failed to fetch key: unbase/records/jobs/{queued}"
    )
    api.ok("abort_job", {"id": running})


def test_stream_job_log_carries_the_log(api: Api) -> None:
    """`stream_job_log` (Cronwright extension): the log from its start, live, then `end` with the code."""
    event = script_event(api, "echo first\nsleep 1\necho second\nexit 3")
    job_id = start_job(api, event["id"])
    wait_state(api, job_id, "active")
    texts, end = [], None
    with httpx.stream(
        "GET",
        f"{api.base_url}/api/app/stream_job_log/v1",
        params={"id": job_id},
        headers={"X-API-Key": ADMIN_KEY},
        timeout=30,
    ) as response:
        kind = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind == "log":
                texts.append(json.loads(line[6:]))
            elif line.startswith("data: ") and kind == "end":
                end = json.loads(line[6:])
    assert "".join(texts) == "first\nsecond\n"
    assert end is not None and end["id"] == job_id and end["code"] == 3
    done = wait_job(api, job_id)
    with httpx.stream(
        "GET",
        f"{api.base_url}/api/app/stream_job_log/v1",
        params={"id": done["id"]},
        headers={"X-API-Key": ADMIN_KEY},
        timeout=30,
    ) as response:
        body = response.read().decode()
    assert 'data: "first\\nsecond\\n"' in body and body.rstrip().endswith(
        '"code":3,"description":"Script exited with code: 3"}'
    )


@pytest.mark.parametrize("value", [64, "64"])
def test_tail_live_job_log_as_the_sdk_calls_it(api: Api, value: Any) -> None:
    """`tailLiveJobLog` posts JSON to the unversioned URL; `bytes` may be a number or digits."""
    event = script_event(api, "echo line-one\necho line-two\nsleep 30")
    job_id = start_job(api, event["id"])
    deadline = time.time() + 15
    while True:
        body = api.ok("tail_live_job_log", {"id": job_id, "bytes": value}, versioned=False)
        if "line-two" in body["text"]:
            break
        assert time.time() < deadline, body
        time.sleep(0.1)
    assert body["text"].endswith("line-two\n")
    _status, answer = api.call("tail_live_job_log", {"id": job_id, "bytes": "x"}, versioned=False)
    assert answer == {"code": "api", "description": "Malformed parameter value: bytes"}
    _status, answer = api.call("tail_live_job_log", {"id": job_id, "bytes": 1048577}, versioned=False)
    assert answer == {"code": "api", "description": "Requested byte count out of range (1 - 1048576)"}
    api.ok("abort_job", {"id": job_id})
    final = wait_job(api, job_id)
    assert api.ok("tail_live_job_log", {"id": final["id"]}, versioned=False)["text"] == ""
