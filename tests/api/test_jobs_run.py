"""Jobs that really run: run_event, the Shell plugin and its protocol, job records (sections F, I, K)."""

from __future__ import annotations

import json
import re
import time

import httpx

from tests.api.helpers import (
    SCRIPT,
    create_event,
    make_key,
    run_wait,
    script_event,
    start_job,
    uid,
    wait_job,
    wait_state,
)
from tests.support.server import ADMIN_KEY, Api


def test_run_returns_job_id_and_job_is_active(api: Api) -> None:
    """`run_event` answers `{code: 0, id: "j…"}` and the job is listed as active (case 94)."""
    event = script_event(api, "sleep 1")
    job_id = start_job(api, event["id"])
    assert job_id.startswith("j") and len(job_id) == 16
    active = api.ok("get_active_jobs", {"event": event["id"]})["rows"]
    assert [j["id"] for j in active] == [job_id]
    assert wait_job(api, job_id)["code"] == 0


def test_success_record(api: Api) -> None:
    """A successful job's record: code 0, final, complete, elapsed = completed − started, token, tags (cases 146–147, 184)."""
    event = script_event(api, "echo hello")
    job = run_wait(api, event["id"])
    assert (job["code"], job["state"], job["complete"], job["final"]) == (0, "complete", True, True)
    assert abs(job["elapsed"] - (job["completed"] - job["started"])) < 0.01
    assert job["progress"] == 1 and job["server"] and "main" in job["groups"]
    assert job["source"] == "key" and job["event"] == event["id"] and job["event_title"] == event["title"]
    assert "hello" in job["output"] and job["log_file_size"] == len("hello\n")
    assert {"_success", "_last"} <= set(job["tags"])
    body = api.ok("get_job", {"id": job["id"]})
    assert body["token"] and body["job"]["final"]


def test_exit_codes_and_stderr(api: Api) -> None:
    """Exit 3 → code 3 "Script exited with code: 3"; stderr adds its first line and Error Output (cases 185–186)."""
    job = run_wait(api, script_event(api, "exit 3")["id"])
    assert (job["code"], job["description"]) == (3, "Script exited with code: 3")
    assert "_error" in job["tags"]
    job = run_wait(api, script_event(api, "echo oops >&2\nexit 1")["id"])
    assert job["description"] == "Script exited with code: 1: oops"
    assert job["html"]["title"] == "Error Output" and "oops" in job["html"]["content"]


def test_progress_shorthand_and_protocol(api: Api) -> None:
    """`50%` sets progress and stays out of the log; non-xy JSON is logged; data merges (cases 187, 189, 190)."""
    script = (
        "echo 50%\necho '{\"foo\":1}'\n"
        'echo \'{"xy":1,"data":{"a":[1]}}\'\necho \'{"xy":1,"data":{"a":[2],"b":2}}\'\n'
        'echo \'{"xy":1,"status":"working","perf":{"db":0.5},"label":"L","table":{"rows":[[1]]}}\''
    )
    job = run_wait(api, script_event(api, script)["id"])
    assert job["data"] == {"a": [1, 2], "b": 2}
    assert '{"foo":1}' in job["output"] and "50%" not in job["output"]
    assert "status" not in job  # live-only (sdk-wire.md §6)
    assert job["perf"] == {"db": 0.5} and job["label"] == "L"
    assert job["table"] == {"rows": [[1]]}


def test_first_code_wins(api: Api) -> None:
    """`{"xy":1,"code":0}` then `exit 5` is a success (case 188)."""
    job = run_wait(api, script_event(api, 'echo \'{"xy":1,"code":0}\'\nexit 5')["id"])
    assert job["code"] == 0


def test_push_tags(api: Api) -> None:
    """Pushed known tags land on the job; unknown ones are dropped (case 191)."""
    job = run_wait(api, script_event(api, 'echo \'{"xy":1,"push":{"tags":["flag","nope"]}}\'')["id"])
    assert "flag" in job["tags"] and "nope" not in job["tags"]


def test_environment(api: Api) -> None:
    """The process sees JOB_ID, JOB_NOW, params as variables and data_* — and no XYOPS_* host vars (case 192)."""
    script = 'echo "id=$JOB_ID now=$JOB_NOW flag=$flag word=$word n=$data_n x=${XYOPS_SECRET:-none}"'
    event = script_event(api, script, params={"flag": True, "word": "hi"})
    job = run_wait(api, event["id"], input={"data": {"n": 7}})
    assert f"id={job['id']}" in job["output"]
    assert "flag=true word=hi n=7 x=none" in job["output"] and "now=" in job["output"]


def test_output_file_is_stored_and_downloadable(api: Api, server_url: str) -> None:
    """A file named by the plugin is stored under files/jobs/<id>/ and downloadable (case 193)."""
    event = script_event(api, 'echo data > out.txt\necho \'{"xy":1,"files":["out.txt"]}\'')
    job = run_wait(api, event["id"])
    assert len(job["files"]) == 1
    record = job["files"][0]
    assert record["filename"] == "out.txt" and record["path"].startswith(f"files/jobs/{job['id']}/")
    assert record["size"] == 5 and "_files" in job["tags"]
    assert httpx.get(f"{server_url}/{record['path']}").content == b"data\n"


def test_annotate(api: Api) -> None:
    """`annotate: true` prefixes output lines with `[YYYY-MM-DD HH:MM:SS] ` (case 195)."""
    job = run_wait(api, script_event(api, "echo stamped", params={"annotate": True})["id"])
    assert re.search(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] stamped$", job["output"], re.M)


def test_generic_plugin_without_completion_is_warning(api: Api) -> None:
    """A custom plugin that exits 0 without a completion record ends with `warning` (case 194)."""
    plugin = api.ok("create_plugin", {"title": "Quiet", "type": "event", "command": "/bin/true"})["plugin"]
    event = create_event(api, plugin=plugin["id"], params={})
    job = run_wait(api, event["id"])
    assert job["code"] == "warning" and job["description"] == "Process exited without reporting job completion."


def test_code_normalization(api: Api) -> None:
    """A plugin code "Bad Thing!" is stored as "bad_thing_" (case 170)."""
    job = run_wait(api, script_event(api, 'echo \'{"xy":1,"code":"Bad Thing!","description":"d"}\'')["id"])
    assert job["code"] == "bad_thing_" and job["description"] == "d"


def test_params_merge_and_overrides(api: Api) -> None:
    """Run params merge over the event's; tags override; category cannot be overridden (cases 101–105)."""
    event = script_event(api, 'echo "$a $b $c"', params={"a": "1", "b": "2"}, tags=["important"])
    job = run_wait(
        api, event["id"], params={"b": "X", "c": "3"}, tags=["flag"], category="other", input={"data": {"n": 1}}
    )
    assert job["params"] == {"script": event["params"]["script"], "a": "1", "b": "X", "c": "3"}
    assert "1 X 3" in job["output"]
    assert "flag" in job["tags"] and "important" not in job["tags"] and job["category"] == "general"
    assert job["input"]["data"] == {"n": 1}


def test_flat_keys_json_field_and_post_data(api: Api, server_url: str) -> None:
    """`params/foo=bar`, the `json` field and `?post_data` reach the job (cases 106, 107, 206)."""
    event = script_event(api, "true")
    headers = {"X-API-Key": ADMIN_KEY}
    job_id = httpx.post(f"{server_url}/api/app/run_event/v1?id={event['id']}&params/foo=bar", headers=headers).json()[
        "id"
    ]
    assert wait_job(api, job_id)["params"]["foo"] == "bar"
    job_id = api.ok("run_event", {"json": json.dumps({"id": event["id"], "params": {"x": 1}})})["id"]
    assert wait_job(api, job_id)["params"]["x"] == 1
    body = {"foo": "bar", "nested": {"a": 1}}
    job_id = httpx.post(
        f"{server_url}/api/app/run_event/v1?post_data=1&id={event['id']}", json=body, headers=headers
    ).json()["id"]
    job = wait_job(api, job_id)
    assert job["post_data"] == body and "foo" not in job


def test_locked_script_on_run(api: Api) -> None:
    """A non-admin cannot replace the script at run time (case 108)."""
    event = script_event(api, "echo original")
    client, _ = make_key(api, {"run_jobs": True})
    job_id = client.ok("run_event", {"id": event["id"], "params": {"script": "#!/bin/sh\necho evil"}})["id"]
    job = wait_job(api, job_id)
    assert job["params"]["script"] == event["params"]["script"] and "original" in job["output"]


def test_wait_returns_data(api: Api) -> None:
    """`run_event/v1/wait` answers the final job with its data (case 110)."""
    job = run_wait(api, script_event(api, 'echo \'{"xy":1,"data":{"num":42}}\'')["id"])
    assert job["final"] is True and job["code"] == 0 and job["data"]["num"] == 42


def test_source_username_and_key(api: Api, server_url: str) -> None:
    """Key runs record source `key`, the key id as username and `key`; sessions record the user (cases 111, 204)."""
    event = script_event(api, "true")
    client, key = make_key(api, {"run_jobs": True})
    job = wait_job(api, client.ok("run_event", {"id": event["id"]})["id"])
    assert (job["source"], job["username"], job["key"]) == ("key", key["id"], key["id"])
    login = httpx.post(
        f"{server_url}/api/user/login", json={"username": "admin", "password": "test-admin-password"}
    ).json()
    job_id = httpx.post(
        f"{server_url}/api/app/run_event/v1", json={"id": event["id"]}, headers={"X-Session-ID": login["session_id"]}
    ).json()["id"]
    job = wait_job(api, job_id)
    assert (job["source"], job["username"]) == ("user", "admin") and "key" not in job


def test_credentials_never_in_job(api: Api, server_url: str) -> None:
    """A key sent in the body or query never appears in the stored job (case 205)."""
    event = script_event(api, "true")
    plain_client, _ = make_key(api, {"run_jobs": True})
    plain = plain_client.key
    for response in (
        httpx.post(f"{server_url}/api/app/run_event/v1", json={"id": event["id"], "api_key": plain}),
        httpx.post(f"{server_url}/api/app/run_event/v1?api_key={plain}", json={"id": event["id"]}),
    ):
        job_id = response.json()["id"]
        wait_job(api, job_id)
        verbose = api.ok("get_jobs", {"ids": [job_id], "verbose": True})["jobs"][0]
        assert plain not in json.dumps(verbose)


def test_disabled_category_refuses_launch(api: Api) -> None:
    """A run in a disabled category fails with "Failed to launch job: Category is disabled" (case 112)."""
    category = uid("cat")
    api.ok("create_category", {"id": category, "title": "Off", "enabled": False})
    event = script_event(api, "true", category=category)
    status, code, desc = api.error("run_event", {"id": event["id"]})
    assert (status, code) == (409, "event") and desc == "Failed to launch job: Category is disabled: Off"


def test_multipart_input_file(api: Api, server_url: str) -> None:
    """A file uploaded with run_event is listed in `input.files` and present in the job's directory (case 113)."""
    event = script_event(api, "cat a.csv")
    response = httpx.post(
        f"{server_url}/api/app/run_event/v1",
        data={"json": json.dumps({"id": event["id"]})},
        files={"file1": ("a.csv", b"0123456789")},
        headers={"X-API-Key": ADMIN_KEY},
    )
    job = wait_job(api, response.json()["id"])
    entry = job["input"]["files"][0]
    assert (entry["filename"], entry["size"]) == ("a.csv", 10) and "0123456789" in job["output"]


def test_macros(api: Api) -> None:
    """`{{ }}` in params expand against the job; unknown paths are empty (case 169)."""
    event = script_event(
        api, "true", params={"a": "x", "b": "{{params.a}}-{{id}}", "c": "{{nope}}", "d": "{{data.n * 2}}"}
    )
    job = run_wait(api, event["id"], input={"data": {"n": 21}})
    assert job["params"]["b"] == f"x-{job['id']}" and job["params"]["c"] == "" and job["params"]["d"] == "42"


def test_bad_macro_fails_the_job(api: Api) -> None:
    """A macro that does not parse fails the job with a clear description (the server keeps running)."""
    job = run_wait(api, script_event(api, "true", params={"x": "{{ 1 + }}"})["id"])
    assert job["code"] == 1 and "Param 'x'" in job["description"]
    api.ok("ping")


def test_unknown_targets_and_algorithm(api: Api) -> None:
    """No matching server aborts "No available servers matching targets."; an unknown algo aborts too (cases 164, 168)."""
    job = run_wait(api, script_event(api, "true", targets=["nope"])["id"])
    assert (job["code"], job["description"]) == ("abort", "No available servers matching targets.")
    job = run_wait(api, script_event(api, "true", algo="bogus")["id"])
    assert (job["code"], job["description"]) == ("abort", "Unknown algorithm or monitor: bogus")


def test_multiplex_runs_one_job_per_server(api: Api) -> None:
    """`multiplex` with the single local server runs exactly one job (case 168)."""
    job = run_wait(api, script_event(api, "true", algo="multiplex")["id"])
    assert job["code"] == 0


def test_test_plugin(api: Api) -> None:
    """The built-in Test Plugin reports success with data."""
    event = create_event(api, plugin="testplug", params={"duration": "0", "action": "Success"})
    job = run_wait(api, event["id"])
    assert job["code"] == 0 and job["description"] == "Success!" and "hostname" in job["data"]


def test_job_log_views(api: Api, server_url: str) -> None:
    """view/download_job_log need the job token (403 otherwise, even with a key); get_job_log is gzip (case 216)."""
    job = run_wait(api, script_event(api, "echo logged")["id"])
    token = api.ok("get_job", {"id": job["id"]})["token"]
    view = httpx.get(f"{server_url}/api/app/view_job_log/v1", params={"id": job["id"], "t": token})
    assert view.status_code == 200 and view.text == "logged\n"
    bad = httpx.get(
        f"{server_url}/api/app/view_job_log/v1", params={"id": job["id"], "t": "x"}, headers={"X-API-Key": ADMIN_KEY}
    )
    assert bad.status_code == 403
    download = httpx.get(f"{server_url}/api/app/download_job_log/v1", params={"id": job["id"], "t": token})
    assert "attachment" in download.headers["content-disposition"] and download.text == "logged\n"
    gz = httpx.get(f"{server_url}/api/app/get_job_log/v1", params={"id": job["id"]}, headers={"X-API-Key": ADMIN_KEY})
    assert gz.status_code == 200 and gz.text == "logged\n"
    quiet = run_wait(api, script_event(api, "true")["id"])
    assert (
        httpx.get(
            f"{server_url}/api/app/get_job_log/v1", params={"id": quiet["id"]}, headers={"X-API-Key": ADMIN_KEY}
        ).status_code
        == 204
    )


def test_get_event_reports_running_job(api: Api) -> None:
    """While a job runs, `get_event` lists it in `jobs`; `delete_event` is refused (cases 27, 90)."""
    event = script_event(api, "sleep 2")
    job_id = start_job(api, event["id"])
    wait_state(api, job_id, "active")
    body = api.ok("get_event", {"id": event["id"]})
    assert [j["id"] for j in body["jobs"]] == [job_id] and body["queued"] == 0
    status, code, desc = api.error("delete_event", {"id": event["id"]})
    assert (status, code) == (409, "event") and "1 active jobs found" in desc
    api.ok("abort_job", {"id": job_id})
    assert wait_job(api, job_id)["code"] == "abort"


def test_delete_event_with_jobs(api: Api) -> None:
    """`delete_jobs: true` removes the event's job records in the background (case 92)."""
    event = script_event(api, "echo x")
    job_ids = [run_wait(api, event["id"])["id"] for _ in range(3)]
    api.ok("delete_event", {"id": event["id"], "delete_jobs": True})
    deadline = time.time() + 10
    while time.time() < deadline and any(api.call("get_job", {"id": j})[1]["code"] == 0 for j in job_ids):
        time.sleep(0.05)
    assert all(api.call("get_job", {"id": j})[1]["code"] == "notfound" for j in job_ids)


def test_run_with_script_constant(api: Api) -> None:
    """The default test script runs (sanity check of the helpers)."""
    assert "hello" in run_wait(api, create_event(api, params={"script": SCRIPT})["id"])["output"]


def test_job_output_updates_and_deletes_event(api: Api) -> None:
    """`update_event` from a job is applied (validated, revision +1, history `reason: job`); `delete_event` deletes."""
    event = script_event(api, 'echo \'{"xy":1,"update_event":{"title":"Changed by job"}}\'')
    job = run_wait(api, event["id"])
    stored = api.ok("get_event", {"id": event["id"]})["event"]
    assert stored["title"] == "Changed by job" and stored["revision"] == event["revision"] + 1
    row = api.ok("get_event_history", {"id": event["id"]})["rows"][0]
    assert row["reason"] == "job" and row["job"] == job["id"] and "username" not in row
    doomed = script_event(api, 'echo \'{"xy":1,"delete_event":true}\'')
    job = run_wait(api, doomed["id"])
    assert job["code"] == 0 and api.error("get_event", {"id": doomed["id"]})[:2] == (404, "notfound")


def test_test_runs_and_overrides(api: Api) -> None:
    """A `test` run is tagged `_test`; `_xy_override_label` sets the job's label; samples are kept."""
    event = script_event(api, "sleep 1.2", params={"_xy_override_label": "Nightly"})
    job = run_wait(api, event["id"], test=True)
    assert "_test" in job["tags"] and job["label"] == "Nightly"
    assert job["mem"]["count"] >= 1 and job["mem"]["max"] > 0 and "cpu" in job
