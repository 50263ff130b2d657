"""The file APIs (sdk-wire.md §4): `upload_files`, `upload_job_input_files`, the input files of
`run_event`, and `delete_job_file`: who may call them, where files land, names, overwrites,
wording, and that no name or owner reaches outside the caller's own storage space."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cronwright.engine.jobs.filestore import owner_segment, url_file_name, user_file_name
from tests.api.helpers import create_event, make_key, run_wait, script_event, start_job, uid, wait_job, wait_state
from tests.conftest import StartServer
from tests.support.server import ADMIN_KEY, Api, Server

PASSWORD = "correct horse battery"
RANDOM = r"[A-Za-z0-9_-]{43}"
NO_FILES = {"code": "file", "description": "No file upload data found in request."}
Files = list[tuple[str, tuple[str, bytes]]]


@pytest.fixture(scope="module")
def srv(server_factory: StartServer) -> Server:
    """A server of this module: it creates users named `jobs` and `Magic`, which exist once per server."""
    return server_factory("sqlite")


@pytest.fixture(scope="module")
def sapi(srv: Server) -> Api:
    return srv.client()


def post_files(
    srv: Server,
    name: str,
    files: Files,
    *,
    key: str | None = ADMIN_KEY,
    session: str = "",
    fields: dict[str, str] | None = None,
    versioned: bool = True,
) -> httpx.Response:
    """A multipart POST of `files` (field, (client name, bytes)) to `/api/app/NAME[/v1]`."""
    headers = {"X-API-Key": key} if key else {}
    if session:
        headers["X-Session-ID"] = session
    url = f"{srv.url}/api/app/{name}" + ("/v1" if versioned else "")
    return httpx.post(url, files=files, data=fields or {}, headers=headers, timeout=60)


def ok_body(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == 200 and body["code"] == 0, response.text
    return body


def fetch(srv: Server, key: str) -> httpx.Response:
    return httpx.get(f"{srv.url}/{key}", timeout=30)


def new_user(srv: Server, username: str, **fields: Any) -> str:
    """Create a user (admin key) and log in; returns the session id."""
    params = {"username": username, "password": PASSWORD, **fields}
    for name, body in (("admin_create", params), ("login", {"username": username, "password": PASSWORD})):
        headers = {"X-API-Key": ADMIN_KEY} if name == "admin_create" else {}
        reply = httpx.post(f"{srv.url}/api/user/{name}/v1", json=body, headers=headers, timeout=30).json()
        assert reply["code"] == 0, reply
    return str(reply["session_id"])


def session_api(srv: Server, session: str) -> Api:
    """An `Api` that authenticates by session (no key)."""
    client = srv.client(key=None)
    client.http.headers["X-Session-ID"] = session
    return client


# ---- names and owners (the rules, as a table)


def test_name_rules() -> None:
    """`upload_files` names keep case, input-file URL names are lower-cased with `.bin` added when
    there is no extension; both are one safe path segment whatever the client sent."""
    assert user_file_name("Report 2024 (final).CSV") == "Report_2024_final_.CSV"
    assert user_file_name("a/../../etc/passwd") == "passwd"
    assert user_file_name("..\\..\\win.ini") == ".._.._win.ini"
    assert user_file_name("dir/") == "dir"
    assert url_file_name("Data File.CSV") == "data_file.csv"
    assert url_file_name("README") == "readme.bin"
    assert url_file_name("archive.tar-") == "archive.tar-.bin"
    assert url_file_name("/etc/passwd") == "passwd.bin"
    assert len(url_file_name("x" * 1000 + ".csv")) == 255 and url_file_name("x" * 1000 + ".csv").endswith(".csv")


@pytest.mark.parametrize(
    ("owner", "plain"),
    [
        ("admin", True),
        ("Bob.Smith-2", True),
        ("kmx7abc", True),
        ("jobs", False),
        ("JOBS", False),
        ("magic", False),
        ("Magic", False),
        ("..", False),
        (".", False),
        ("", False),
        ("a/b", False),
        ("../../etc", False),
        (".hidden", False),
        ("-rf", False),
        ("~x", False),
        ("x" * 129, False),
    ],
)
def test_owner_segment(owner: str, plain: bool) -> None:
    """An owner is its own path segment only when it is a plain name other than `jobs`/`magic`;
    anything else becomes `~` + 32 hex digits of its digest, which no plain name can equal."""
    segment = owner_segment(owner)
    if plain:
        assert segment == owner
    else:
        assert segment == "~" + hashlib.sha256(owner.encode()).hexdigest()[:32]
    assert "/" not in segment and segment.strip(".") and segment.lower() not in ("jobs", "magic")


# ---- upload_files


def test_upload_files_with_a_key_created_by_admin(srv: Server, sapi: Api) -> None:
    """sdk-wire.md §7 check 11: a read-only key created by `admin` may upload; the URL is
    `<base URL>/files/admin/report.csv` and serves the file without credentials."""
    client, _ = make_key(sapi, {})
    name = f"{uid('report')}.csv"
    body = ok_body(post_files(srv, "upload_files", [("file1", (name, b"a,b\n1,2\n"))], key=client.key))
    assert body == {"code": 0, "urls": [f"{srv.url}/files/admin/{name}"]}
    download = httpx.get(body["urls"][0], timeout=30)
    assert download.status_code == 200 and download.content == b"a,b\n1,2\n"


def test_upload_files_names_order_and_overwrite(srv: Server, sapi: Api) -> None:
    """Any field names and any number of files, answered in upload order; a new upload of a name
    that differs at most in case replaces the old file, and every URL form serves the new one."""
    tag = uid("n")
    files: Files = [
        ("zeta", (f"{tag} Notes (v1).TXT", b"first")),
        ("alpha", (f"../../../etc/{tag}.conf", b"conf")),
        ("x", (f"..\\..\\{tag}.ini", b"ini")),
    ]
    urls = ok_body(post_files(srv, "upload_files", files))["urls"]
    base = f"{srv.url}/files/admin/"
    assert urls == [base + f"{tag}_Notes_v1_.TXT", base + f"{tag}.conf", base + f".._.._{tag}.ini"]
    again = ok_body(post_files(srv, "upload_files", [("f", (f"{tag}_notes_V1_.txt", b"second"))]))["urls"]
    assert again == [base + f"{tag}_notes_V1_.txt"]
    for url in (urls[0], again[0], url_lower := urls[0].lower()):
        response = httpx.get(url, timeout=30)
        assert response.status_code == 200 and response.content == b"second", url
    assert url_lower.endswith(f"{tag}_notes_v1_.txt")
    stored = sorted(p.name for p in (srv.data_dir / "files" / "admin").iterdir() if p.name.startswith(tag))
    assert stored == [f"{tag}.conf", f"{tag}_notes_v1_.txt"]
    assert not (srv.data_dir / "etc").exists() and not (srv.data_dir / "files" / "etc").exists()


def test_upload_files_order_of_checks(srv: Server, sapi: Api) -> None:
    """No file → `file` (before authentication: no credentials needed for that answer; 400 on
    `/v1`, 200 unversioned); bad files → `api` at once; then the caller must be known (`session`)."""
    for key in (ADMIN_KEY, None):
        headers = {"X-API-Key": key} if key else {}
        plain = httpx.post(f"{srv.url}/api/app/upload_files/v1", json={}, headers=headers, timeout=30)
        assert (plain.status_code, plain.json()) == (400, NO_FILES)
        form = httpx.post(f"{srv.url}/api/app/upload_files/v1", data={"json": "{}"}, headers=headers, timeout=30)
        assert (form.status_code, form.json()) == (400, NO_FILES)
        unversioned = httpx.post(f"{srv.url}/api/app/upload_files", json={}, headers=headers, timeout=30)
        assert (unversioned.status_code, unversioned.json()) == (200, NO_FILES)
        empty = post_files(srv, "upload_files", [("file1", ("a.txt", b""))], key=key)
        assert (empty.status_code, empty.json()) == (
            400,
            {"code": "api", "description": "File 'file1' is missing required size property, or is zero bytes."},
        )
        for bad in ("..", ".", "a/..", "/"):
            named = post_files(srv, "upload_files", [("ok", ("ok.txt", b"x")), ("up", (bad, b"x"))], key=key)
            assert (named.status_code, named.json()) == (
                400,
                {"code": "api", "description": "File 'up' is missing required name property, or name is invalid."},
            ), bad
    anonymous = post_files(srv, "upload_files", [("file1", ("a.txt", b"x"))], key=None)
    assert anonymous.status_code == 403 and anonymous.json()["code"] == "session"
    assert post_files(srv, "upload_files", [("f", ("a.txt", b"x"))], key="wrong").json()["code"] == "session"
    assert not (srv.data_dir / "files" / "a.txt").exists()


def test_owner_is_the_user_or_the_keys_creator(srv: Server, sapi: Api) -> None:
    """A session uploads under its user name (case kept); a key the user created uploads under that
    user name too; a run's input files and records say the same, while the job's `username` stays
    the key id."""
    name = "Up_" + uid("u")[2:]
    session = new_user(srv, name, privileges={"admin": True})
    user_api = session_api(srv, session)
    mine = ok_body(post_files(srv, "upload_files", [("f", ("Mine.txt", b"mine"))], key=None, session=session))
    assert mine["urls"] == [f"{srv.url}/files/{name}/Mine.txt"]
    body = user_api.ok("create_api_key", {"title": uid("key"), "privileges": {"run_jobs": True}})
    key_record, key_plain = body["api_key"], body["plain_key"]
    assert key_record["username"] == name
    via_key = ok_body(post_files(srv, "upload_files", [("f", ("k.txt", b"k"))], key=key_plain))
    assert via_key["urls"] == [f"{srv.url}/files/{name}/k.txt"]
    event = script_event(sapi, "cat One.csv two.CSV")
    files: Files = [("file1", ("One.csv", b"one\n")), ("file2", ("two.CSV", b"two\n"))]
    response = post_files(srv, "run_event", files, key=key_plain, fields={"json": json.dumps({"id": event["id"]})})
    job = wait_job(sapi, ok_body(response)["id"])
    assert job["username"] == key_record["id"] and job["source"] == "key"
    paths = [f["path"] for f in job["input"]["files"]]
    assert re.fullmatch(rf"files/{name}/{RANDOM}/one\.csv", paths[0]) and paths[1].endswith("/two.csv")
    assert paths[0].split("/")[2] == paths[1].split("/")[2]
    assert {f["username"] for f in job["input"]["files"]} == {name}
    assert "one" in job["output"] and "two" in job["output"]


def test_key_created_by_a_key_uploads_as_that_keys_user(srv: Server, sapi: Api) -> None:
    """A key created by another key stores that key's id as `username`; its uploads land under the
    user behind the creating key (`admin`, who created the administrator key), as in xyOps, where
    the new key copies its creator's `username` (sdk-wire.md §4.1)."""
    client, record = make_key(sapi, {"admin": True})
    child, child_record = make_key(client, {})
    assert child_record["username"] == record["id"]
    name = f"{uid('c')}.txt"
    body = ok_body(post_files(srv, "upload_files", [("f", (name, b"c"))], key=child.key))
    assert body["urls"] == [f"{srv.url}/files/admin/{name}"]


def test_reserved_owner_names_stay_in_their_own_space(srv: Server, sapi: Api) -> None:
    """Users named `jobs` and `Magic` cannot write into the job-output or magic-link namespaces:
    their files go to `files/~<digest>/…`, and a file named like a job id touches no job's files."""
    producer = script_event(sapi, 'echo out > out.txt; echo \'{"xy":1,"files":["out.txt"]}\'')
    job = run_wait(sapi, producer["id"])
    output = job["files"][0]
    for username in ("jobs", "Magic"):
        session = new_user(srv, username, privileges={"run_jobs": True})
        segment = owner_segment(username)
        assert segment.startswith("~")
        body = ok_body(post_files(srv, "upload_files", [("f", (job["id"], b"evil"))], key=None, session=session))
        assert body["urls"] == [f"{srv.url}/files/{segment}/{job['id']}"]
        assert fetch(srv, f"files/{segment}/{job['id']}").content == b"evil"
        event = script_event(sapi, "cat x.txt")
        fields = {"json": json.dumps({"id": event["id"]})}
        run = post_files(srv, "run_event", [("f", ("x.txt", b"x"))], key=None, session=session, fields=fields)
        ran = wait_job(sapi, ok_body(run)["id"])
        assert ran["input"]["files"][0]["path"].startswith(f"files/{segment}/")
        assert ran["input"]["files"][0]["username"] == username
    assert fetch(srv, output["path"]).content == b"out\n"
    assert not (srv.data_dir / "files" / "jobs" / job["id"]).is_file()
    assert not any(p.is_file() for p in (srv.data_dir / "files" / "magic").glob("*"))


def test_storage_paths_cannot_be_escaped_or_half_read(srv: Server) -> None:
    """`/files/` serves only storage keys: dot segments and the partial-upload folder answer 404."""
    for path in (
        "files/admin/%2e%2e/%2e%2e/cronwright.db",
        "files/%2e%2e/cronwright.db",
        "files/.partial/x",
        "files/.PARTIAL/x",
        "files/admin",
    ):
        assert httpx.get(f"{srv.url}/{path}", timeout=30).status_code == 404, path


# ---- input files


def test_upload_job_input_files(srv: Server, sapi: Api) -> None:
    """Needs `run_jobs` (after the file check); answers one record per file, all under one random
    segment, with lower-case URL names (`.bin` without an extension) and the client's name kept."""
    reader, _ = make_key(sapi, {})
    files: Files = [("a", ("Data File.CSV", b"1,2\n")), ("b", ("README", b"read me"))]
    refused = post_files(srv, "upload_job_input_files", files, key=reader.key)
    assert refused.status_code == 403 and refused.json()["code"] == "access"
    empty = httpx.post(f"{srv.url}/api/app/upload_job_input_files/v1", json={}, timeout=30)
    assert (empty.status_code, empty.json()) == (400, NO_FILES)
    runner, _ = make_key(sapi, {"run_jobs": True})
    records = ok_body(post_files(srv, "upload_job_input_files", files, key=runner.key))["files"]
    assert [(r["filename"], r["size"], r["username"]) for r in records] == [
        ("Data File.CSV", 4, "admin"),
        ("README", 7, "admin"),
    ]
    assert re.fullmatch(rf"files/admin/({RANDOM})/data_file\.csv", records[0]["path"])
    assert records[1]["path"] == records[0]["path"].rsplit("/", 1)[0] + "/readme.bin"
    assert all(set(r) == {"id", "date", "filename", "path", "size", "username"} for r in records)
    assert fetch(srv, records[1]["path"]).content == b"read me"


def test_run_event_files_share_one_random_segment(srv: Server, sapi: Api) -> None:
    """sdk-wire.md §7 check 12: two files through a key created by `admin` are
    `files/admin/<same 43 chars>/…` with `username: "admin"`."""
    client, _ = make_key(sapi, {"run_jobs": True})
    event = create_event(sapi)
    fields = {"json": json.dumps({"id": event["id"]})}
    files: Files = [("file1", ("upload-a.csv", b"a" * 15)), ("file2", ("upload-b.csv", b"b"))]
    job = wait_job(sapi, ok_body(post_files(srv, "run_event", files, key=client.key, fields=fields))["id"])
    records = job["input"]["files"]
    prefixes = {r["path"].rsplit("/", 1)[0] for r in records}
    assert len(prefixes) == 1 and re.fullmatch(rf"files/admin/{RANDOM}", prefixes.pop())
    assert [(r["filename"], r["size"], r["username"]) for r in records] == [
        ("upload-a.csv", 15, "admin"),
        ("upload-b.csv", 1, "admin"),
    ]


def test_magic_link_files(srv: Server, sapi: Api) -> None:
    """Magic-link uploads are `files/magic/<random>/<url name>`, marked `magic: true`, without a user."""
    key = "files-" + uid("k").replace("_", "-")
    create_event(sapi, triggers=[{"type": "magic", "enabled": True, "key": key}])
    response = httpx.post(f"{srv.url}/api/app/magic/v1/{key}/wait", files={"f": ("Photo.JPG", b"jpg")}, timeout=60)
    (record,) = ok_body(response)["job"]["input"]["files"]
    assert re.fullmatch(rf"files/magic/{RANDOM}/photo\.jpg", record["path"])
    assert record["magic"] is True and "username" not in record and record["filename"] == "Photo.JPG"


# ---- delete_job_file


def output_job(sapi: Api, **overrides: Any) -> dict[str, Any]:
    """A completed job with two output files (`a.txt`, `b.txt`) and its own log file attached."""
    script = 'echo A > a.txt; echo B > b.txt; echo legacy >> "$JOB_LOG"; echo \'{"xy":1,"files":["a.txt","b.txt"]}\''
    return run_wait(sapi, script_event(sapi, script, **overrides)["id"])


def missing(job_id: str) -> str:
    return f"Failed to load job details: {job_id}: Error: Failed to fetch key: unbase/records/jobs/{job_id}: Not found"


def test_delete_job_file_checks(srv: Server, sapi: Api) -> None:
    """Parameters (`api`) come first, then identity (`session`), `delete_jobs` (`access`), the
    stored job (`job`, also while it runs), its scope (`access`) and the path (`job`)."""
    job = output_job(sapi)
    path = job["files"][0]["path"]
    assert sapi.error("delete_job_file", {"path": path})[:3] == (400, "api", "Missing parameter: id")
    assert sapi.error("delete_job_file", {"id": "A-B", "path": path})[2] == "Malformed parameter: id"
    assert sapi.error("delete_job_file", {"id": job["id"]})[2] == "Missing parameter: path"
    assert sapi.error("delete_job_file", {"id": job["id"], "path": ""})[2] == "Malformed parameter: path"
    assert sapi.with_key(None).error("delete_job_file", {"id": job["id"], "path": path})[:2] == (403, "session")
    no_priv, _ = make_key(sapi, {"run_jobs": True, "abort_jobs": True})
    assert no_priv.error("delete_job_file", {"id": job["id"], "path": path})[:2] == (403, "access")
    category = sapi.ok("create_category", {"id": uid("cat"), "title": "Elsewhere"})["category"]
    elsewhere, _ = make_key(sapi, {"delete_jobs": True}, categories=[category["id"]])
    status, code, desc = elsewhere.error("delete_job_file", {"id": job["id"], "path": path})
    assert (status, code) == (403, "access") and "category" in desc
    assert sapi.error("delete_job_file", {"id": "jnope", "path": path})[:3] == (404, "job", missing("jnope"))
    assert sapi.call("delete_job_file", {"id": "jnope", "path": path}, versioned=False) == (
        200,
        {"code": "job", "description": missing("jnope")},
    )
    running = start_job(sapi, script_event(sapi, "sleep 3")["id"])
    wait_state(sapi, running, "active")
    assert sapi.error("delete_job_file", {"id": running, "path": path})[:3] == (404, "job", missing(running))
    status, code, desc = sapi.error("delete_job_file", {"id": job["id"], "path": f"files/jobs/{job['id']}/x/gone.txt"})
    assert (status, code, desc) == (404, "job", "Job file not found: gone.txt")
    assert fetch(srv, path).status_code == 200
    assert len(sapi.ok("get_job", {"id": job["id"]})["job"]["files"]) == len(job["files"])


def test_delete_job_file_removes_the_entry_and_the_file(srv: Server, sapi: Api) -> None:
    """sdk-wire.md §7 check 13: the log attachment `job-<id>.log` and an output file are deleted
    (`{code:0}`, entry gone from `get_job`, URL 404, random directory gone); GET with a query works
    (query wins); an activity record `job_delete_file` names the job."""
    job = output_job(sapi)
    names = [f["filename"] for f in job["files"]]
    assert names == ["a.txt", "b.txt", f"job-{job['id']}.log"], names
    deleter, _ = make_key(sapi, {"delete_jobs": True})
    log_entry = job["files"][2]
    assert deleter.ok("delete_job_file", {"id": job["id"], "path": log_entry["path"]}) == {"code": 0}
    first = job["files"][0]
    by_get = deleter.http.request(
        "GET",
        "/api/app/delete_job_file/v1",
        json={"id": "jignored", "path": "ignored"},
        params={"id": job["id"], "path": first["path"]},
        headers={"X-API-Key": str(deleter.key)},
    )
    assert (by_get.status_code, by_get.json()) == (200, {"code": 0})
    stored = sapi.ok("get_job", {"id": job["id"]})["job"]
    assert [f["filename"] for f in stored["files"]] == ["b.txt"]
    for entry in (log_entry, first):
        assert fetch(srv, entry["path"]).status_code == 404
        assert not (srv.data_dir / entry["path"]).parent.exists()
    assert fetch(srv, job["files"][1]["path"]).content == b"B\n"
    rows = sapi.ok("search_activity", {"query": f"action:job_delete_file keywords:{job['id']}", "limit": 5})["rows"]
    assert len(rows) == 2 and rows[0]["description"] == job["id"] and rows[0]["params"]["path"] == first["path"]
    again = sapi.error("delete_job_file", {"id": job["id"], "path": first["path"]})
    assert again == (404, "job", "Job file not found: a.txt")


def test_delete_job_file_of_uploads_and_foreign_entries(srv: Server, sapi: Api) -> None:
    """An upload of the job's own request is deleted with its entry; entries naming another job's
    output or an owner's `upload_files` file leave the list but never their stored file; bucket and
    ticket files cannot be deleted."""
    event = script_event(sapi, "true")
    fields = {"json": json.dumps({"id": event["id"]})}
    ran = post_files(srv, "run_event", [("f", ("mine.txt", b"mine"))], fields=fields)
    job = wait_job(sapi, ok_body(ran)["id"])
    (upload,) = job["input"]["files"]
    sapi.ok("delete_job_file", {"id": job["id"], "path": upload["path"]})
    assert sapi.ok("get_job", {"id": job["id"]})["job"]["input"]["files"] == []
    assert fetch(srv, upload["path"]).status_code == 404
    assert not (srv.data_dir / upload["path"]).parent.exists()

    other = output_job(sapi)["files"][0]
    shared_name = f"{uid('shared')}.txt"
    shared_url = ok_body(post_files(srv, "upload_files", [("f", (shared_name, b"shared"))]))["urls"][0]
    shared = shared_url.removeprefix(srv.url + "/")
    foreign = [
        {"id": "f1", "path": other["path"], "filename": "a.txt", "size": 2},
        {"id": "f2", "path": shared, "filename": shared_name, "size": 6},
        {"id": "f3", "path": "files/buckets/b1/x.txt", "filename": "x.txt", "size": 1, "bucket": "b1"},
        {"id": "f4", "path": "files/tickets/t1/y.txt", "filename": "y.txt", "size": 1, "ticket": "t1"},
    ]
    target = run_wait(sapi, event["id"])
    sapi.ok("update_job", {"id": target["id"], "input": {"files": foreign}})
    for entry in foreign[:2]:
        sapi.ok("delete_job_file", {"id": target["id"], "path": entry["path"]})
        assert fetch(srv, entry["path"]).status_code == 200, entry
    assert sapi.error("delete_job_file", {"id": target["id"], "path": foreign[2]["path"]})[1:] == (
        "job",
        "Bucket files cannot be deleted from job: x.txt",
    )
    assert sapi.error("delete_job_file", {"id": target["id"], "path": foreign[3]["path"]})[1:] == (
        "job",
        "Ticket files cannot be deleted from job: y.txt",
    )
    left = sapi.ok("get_job", {"id": target["id"]})["job"]["input"]["files"]
    assert [f["id"] for f in left] == ["f3", "f4"]


def test_deleting_a_chained_jobs_input_keeps_the_parents_file(srv: Server, sapi: Api) -> None:
    """A chained job's input file is its parent's output: deleting it from the chained job leaves
    the parent's file in place."""
    child = script_event(sapi, "cat *.txt")
    chain = [{"enabled": True, "condition": "success", "type": "run_event", "event_id": child["id"]}]
    parent = script_event(sapi, 'echo hello > out.txt; echo \'{"xy":1,"files":["out.txt"]}\'', actions=chain)
    produced = run_wait(sapi, parent["id"])["files"][0]
    chained = _first_job(sapi, child["id"])
    assert chained["input"]["files"][0]["path"] == produced["path"]
    sapi.ok("delete_job_file", {"id": chained["id"], "path": produced["path"]})
    assert sapi.ok("get_job", {"id": chained["id"]})["job"]["input"]["files"] == []
    assert fetch(srv, produced["path"]).content == b"hello\n"


def _first_job(api: Api, event_id: str, timeout_s: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        rows = api.ok("get_jobs", {"event": event_id, "limit": 1})["rows"]
        if rows:
            return api.ok("get_job", {"id": rows[0]["id"]})["job"]
        assert time.monotonic() < deadline, f"no completed job of {event_id}"
        time.sleep(0.05)


def test_upload_size_is_bounded_with_or_without_a_length(server_factory: StartServer) -> None:
    """Beyond `max_upload_bytes` an upload is 413 `api`, whether it declares its length or streams
    it in chunks; below the limit a chunked upload is stored."""
    small = server_factory("sqlite", env={"CRONWRIGHT_MAX_UPLOAD_BYTES": "100000"})
    too_large = {"code": "api", "description": "Request body is too large (limit 100000 bytes)."}
    declared = post_files(small, "upload_files", [("f", ("big.bin", b"x" * 200_000))])
    assert (declared.status_code, declared.json()) == (413, too_large)
    boundary = "cwsizeboundary"

    def chunks(size: int) -> Iterator[bytes]:
        yield f'--{boundary}\r\nContent-Disposition: form-data; name="f"; filename="big.bin"\r\n\r\n'.encode()
        for _ in range(size // 10_000):
            yield b"x" * 10_000
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = {"X-API-Key": ADMIN_KEY, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    url = f"{small.url}/api/app/upload_files/v1"
    streamed = httpx.post(url, content=chunks(500_000), headers=headers, timeout=60)
    assert (streamed.status_code, streamed.json()) == (413, too_large)
    fits = httpx.post(url, content=chunks(50_000), headers=headers, timeout=60)
    assert fits.json() == {"code": 0, "urls": [f"{small.url}/files/admin/big.bin"]}
    assert len(httpx.get(fits.json()["urls"][0], timeout=30).content) == 50_000


def test_a_job_writing_to_its_input_file_leaves_the_upload_unchanged(srv: Server, sapi: Api) -> None:
    """Input files are copies in the job directory: appending to one changes neither the stored
    upload nor its recorded size."""
    event = script_event(sapi, "echo TAMPERED >> data.txt\ncat data.txt")
    started = ok_body(
        post_files(
            srv, "run_event", [("file1", ("data.txt", b"orig\n"))], fields={"json": json.dumps({"id": event["id"]})}
        )
    )
    job = wait_job(sapi, started["id"])
    assert job["code"] == 0 and "TAMPERED" in job["output"]
    record = job["input"]["files"][0]
    stored = httpx.get(f"{srv.url}/{record['path']}", timeout=30)
    assert stored.content == b"orig\n" and record["size"] == 5


def test_overlong_file_urls_are_not_found(srv: Server) -> None:
    """A `/files/` path with a segment longer than the file system allows is a 404, never a 500."""
    for path in (f"files/admin/{'b' * 300}", f"files/{'c' * 300}/x", f"files/jobs/j/{'d' * 5000}/x"):
        answer = httpx.get(f"{srv.url}/{path}", timeout=30)
        assert answer.status_code == 404 and answer.json()["code"] == "api", (path, answer.text)
