"""Issue 8 point 2: params cannot reconfigure the runtime. A param never sets a variable that changes
how processes load or resolve (it still reaches the plugin in the job JSON on stdin); uploaded files
never shadow what the plugin executes or imports; upload names are stored under safe names; and a
job running as another user cannot make the conductor copy a file that user cannot read."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cronwright.engine.jobs.filestore import FileStore
from cronwright.engine.jobs.filestore import clean_filename as store_clean_filename
from cronwright.notify import run_action_plugin
from cronwright.runner.environment import build_environment, is_protected_env_name
from cronwright.runner.launch import prepare_launch
from cronwright.runner.outputs import SCRIPT_DIR, clean_filename
from tests.api.helpers import create_event, script_event, uid, wait_job
from tests.conftest import StartServer
from tests.runner.helpers import Harness
from tests.support.server import ADMIN_KEY, Api, Server

IS_ROOT = os.geteuid() == 0

#: params a caller must never be able to turn into these variables (with a value the test recognises)
PROTECTED = (
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "PATH",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "BASH_ENV",
    "ENV",
    "NODE_OPTIONS",
    "PERL5OPT",
    "PERL5LIB",
    "RUBYOPT",
    "JAVA_TOOL_OPTIONS",
    "GCONV_PATH",
    "GLIBC_TUNABLES",
    "HOME",
    "PWD",
    "JOB_ID",
    "JOB_BASE_URL",
    "CRONWRIGHT",
    "CRONWRIGHT_X",
    "XYOPS",
    "XYOPS_BASE_URL",
)

#: upload names an attacker may send; none may escape, fail the request with a 5xx, or keep its form
HOSTILE_NAMES = ("..", ".", "a/../../x", "/etc/passwd", "-rf", ".cronwright", "..\\..\\win", " .. ")


def forged(name: str) -> str:
    return f"/forged/{name.lower()}"


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def srv(server_factory: StartServer) -> Server:
    """A server of this module (the runtime does not depend on the database backend)."""
    return server_factory("sqlite")


@pytest.fixture(scope="module")
def sapi(srv: Server) -> Api:
    return srv.client()


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    """A runner harness (default event loop) on a fresh job directory."""
    cwd = tmp_path / "job"
    cwd.mkdir()
    return Harness("asyncio", cwd)


@pytest.fixture
def probe_dir() -> Iterator[Path]:
    """A directory every user can read, for probe files and marker files."""
    path = Path(tempfile.mkdtemp(prefix="cw-probe-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def marker_writer(marker: Path) -> str:
    """Python source that writes ``marker`` when it runs (e.g. when it is imported)."""
    return f"open({str(marker)!r}, 'w').write('ran')\n"


def run_multipart(srv: Server, event_id: str, files: list[tuple[str, bytes]], **request: Any) -> httpx.Response:
    """``run_event`` as multipart: the request JSON in the ``json`` field plus ``files``."""
    return httpx.post(
        f"{srv.url}/api/app/run_event/v1",
        data={"json": json.dumps({"id": event_id, **request})},
        files=[(f"file{index}", (name, content)) for index, (name, content) in enumerate(files)],
        headers={"X-API-Key": ADMIN_KEY},
        timeout=60,
    )


def post_raw_upload(url: str, filename: str, request: dict[str, Any] | None = None) -> httpx.Response:
    """A multipart POST whose file part carries exactly ``filename`` (clients drop an empty one)."""
    boundary = "cwboundary7e1f"
    parts = []
    if request is not None:
        parts.append(f'Content-Disposition: form-data; name="json"\r\n\r\n{json.dumps(request)}')
    parts.append(f'Content-Disposition: form-data; name="f"; filename="{filename}"\r\n\r\nupload data')
    body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts) + f"--{boundary}--\r\n"
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "X-API-Key": ADMIN_KEY}
    return httpx.post(url, content=body.encode(), headers=headers, timeout=60)


def run_and_wait(sapi: Api, event_id: str, **request: Any) -> dict[str, Any]:
    job_id = sapi.ok("run_event", {"id": event_id, **request})["id"]
    return wait_job(sapi, job_id)


def parse_env(output: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line and not line.startswith("STDIN "))


# -- params never reach the environment as protected variables -----------------------------------


def test_protected_params_stay_out_of_the_environment_but_reach_stdin(sapi: Api) -> None:
    """Params named like loader, interpreter, shell or runner variables are not in the process
    environment (the runner's own values stay), yet the job JSON on stdin carries all of them."""
    script = "#!/bin/sh\nIFS= read -r line\nprintf 'STDIN %s\\n' \"$line\"\n/usr/bin/env\n"
    event = script_event(sapi, script)
    params = {name: forged(name) for name in PROTECTED}
    params.update(plain_param="plain-value", path="lower-case-PATH", Http_Proxy="http://127.0.0.1:9")
    job = run_and_wait(sapi, event["id"], params=params)
    assert job["code"] == 0, job["description"]
    lines = job["output"].splitlines()
    stdin = json.loads(next(line[6:] for line in lines if line.startswith("STDIN ")))
    env = parse_env(job["output"])
    leaked = sorted(name for name in PROTECTED if env.get(name) == forged(name))
    assert leaked == []
    assert all(stdin["params"][name] == forged(name) for name in PROTECTED)
    assert env["plain_param"] == "plain-value"
    # protected in any case: zsh ties `path` to PATH, Python reads proxies case-insensitively
    assert "path" not in env and "Http_Proxy" not in env
    assert env["JOB_ID"] == job["id"] and env["CRONWRIGHT"] == "1" and env["PWD"] == stdin["cwd"]


def _bash_env_probe(probe_dir: Path, marker: Path) -> tuple[str, str, str]:
    probe = probe_dir / "bash_env.sh"
    probe.write_text(f"echo ran > {marker}\n")
    return "#!/bin/bash\necho hello\n", "BASH_ENV", str(probe)


def _pythonpath_probe(probe_dir: Path, marker: Path) -> tuple[str, str, str]:
    (probe_dir / "sitecustomize.py").write_text(marker_writer(marker))
    return "#!/usr/bin/env python3\nprint('hello')\n", "PYTHONPATH", str(probe_dir)


def _path_probe(probe_dir: Path, marker: Path) -> tuple[str, str, str]:
    fake = probe_dir / "date"
    fake.write_text(f"#!/bin/sh\necho ran > {marker}\n")
    fake.chmod(0o755)
    return "#!/bin/sh\ndate\necho hello\n", "PATH", f"{probe_dir}:/usr/bin:/bin"


def _ld_preload_probe(probe_dir: Path, marker: Path) -> tuple[str, str, str]:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build the LD_PRELOAD probe")
    source = probe_dir / "probe.c"
    source.write_text(
        "#include <stdio.h>\n"
        "__attribute__((constructor)) static void probe(void) {\n"
        f'  FILE *f = fopen("{marker}", "w"); if (f) {{ fputs("ran", f); fclose(f); }}\n'
        "}\n"
    )
    library = probe_dir / "probe.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(library), str(source)], check=True, timeout=60)
    return "#!/bin/sh\necho hello\n", "LD_PRELOAD", str(library)


@pytest.mark.parametrize("probe", [_bash_env_probe, _pythonpath_probe, _path_probe, _ld_preload_probe])
def test_a_param_cannot_inject_code_into_the_job(sapi: Api, probe_dir: Path, probe: Any) -> None:
    """A param BASH_ENV, PYTHONPATH, PATH or LD_PRELOAD naming attacker code does not run it: the
    marker the code would write does not exist once the job is final."""
    marker = probe_dir / "marker"
    script, name, value = probe(probe_dir, marker)
    event = script_event(sapi, script)
    job = run_and_wait(sapi, event["id"], params={name: value})
    assert job["final"] and "hello" in job["output"], job["output"]
    assert not marker.exists(), f"{name} param ran attacker code"


# -- uploads never shadow what the plugin executes or imports -----------------------------------


def test_uploads_cannot_shadow_the_test_plugins_modules(srv: Server, sapi: Api, probe_dir: Path) -> None:
    """An uploaded `cronwright.py` or `json.py` is not imported by the built-in Test plugin, which
    still succeeds."""
    event = create_event(sapi, plugin="testplug", params={"duration": 0, "action": "Success"})
    uploads = [(name, marker_writer(probe_dir / f"marker-{name}").encode()) for name in ("cronwright.py", "json.py")]
    response = run_multipart(srv, event["id"], uploads)
    assert response.status_code == 200 and response.json()["code"] == 0, response.text
    job = wait_job(sapi, response.json()["id"])
    assert sorted(path.name for path in probe_dir.iterdir()) == []
    assert job["code"] == 0, job["description"]


def test_uploads_cannot_shadow_a_scripts_imports(srv: Server, sapi: Api, probe_dir: Path) -> None:
    """A Shell-plugin Python script does not import a module of the same name uploaded with the job
    (the script is not written next to the uploads)."""
    script = (
        "#!/usr/bin/env python3\n"
        "import os\n"
        "try:\n    import cw_probe_mod\nexcept ImportError:\n    print('not imported')\n"
        "try:\n    import requests\nexcept ImportError:\n    pass\n"
        "print('listing', sorted(os.listdir('.')))\n"
    )
    event = script_event(sapi, script)
    uploads = [
        (f"{name}.py", marker_writer(probe_dir / f"marker-{name}").encode()) for name in ("cw_probe_mod", "requests")
    ]
    response = run_multipart(srv, event["id"], uploads)
    assert response.status_code == 200 and response.json()["code"] == 0, response.text
    job = wait_job(sapi, response.json()["id"])
    assert job["code"] == 0, job["description"]
    assert "not imported" in job["output"] and "cw_probe_mod.py" in job["output"]
    assert sorted(path.name for path in probe_dir.iterdir()) == []


# -- upload names ---------------------------------------------------------------------------------


def _is_safe(name: str) -> bool:
    return (
        bool(name)
        and name not in (".", "..")
        and "/" not in name
        and "\\" not in name
        and not name.startswith("-")
        and name.casefold() != SCRIPT_DIR.casefold()
    )


def _check_stored(srv: Server, records: list[dict[str, Any]], owner: str | None) -> None:
    """Every stored input file is ``files/<owner>/<random>/<url name>`` inside the data directory,
    one 43-character random segment per request, a lower-case URL name of safe characters
    (``owner``: the uploader's name or key id when None)."""
    files_root = (srv.data_dir / "files").resolve()
    batches = set()
    for record in records:
        assert _is_safe(record["filename"]), record
        parts = record["path"].split("/")
        assert len(parts) == 4 and parts[0] == "files" and re.fullmatch(r"[A-Za-z0-9_-]{43}", parts[2]), record
        assert re.fullmatch(r"[a-z0-9_.-]+", parts[3]) and parts[3].strip("."), record
        assert parts[1] == owner if owner else _is_safe(parts[1]), record
        batches.add(parts[2])
        stored = (srv.data_dir / record["path"]).resolve()
        assert stored.is_file() and stored.is_relative_to(files_root), record
    assert len(batches) <= 1, batches


#: names whose base name is empty or only dots: refused before anything is stored (sdk-wire.md §4.2)
UNUSABLE_NAMES = ("..", ".")


def test_hostile_upload_names_via_run_event(srv: Server, sapi: Api) -> None:
    """Uploads named `a/../../x`, `/etc/passwd`, `-rf`, `.cronwright`... are accepted (200) under
    safe names, stored inside the job's storage directory and given to the job under those names;
    a name that is only dots or empty is `api` "File '<field>' is missing required name
    property, or name is invalid." (400), never a 5xx."""
    event = script_event(sapi, "#!/bin/sh\nls -A1\n")
    usable = [name for name in HOSTILE_NAMES if name not in UNUSABLE_NAMES]
    uploads = [(name, f"content {index}".encode()) for index, name in enumerate(usable)]
    response = run_multipart(srv, event["id"], uploads)
    assert response.status_code == 200 and response.json()["code"] == 0, response.text
    job = wait_job(sapi, response.json()["id"])
    assert job["code"] == 0, job["description"]
    records = job["input"]["files"]
    assert len(records) == len(usable)
    _check_stored(srv, records, None)
    listed = set(job["output"].splitlines())
    assert {record["filename"] for record in records} <= listed
    assert not (srv.data_dir / "x").exists() and not (srv.data_dir / "files" / "x").exists()
    for name in UNUSABLE_NAMES:
        refused = run_multipart(srv, event["id"], [("ok.txt", b"fine"), (name, b"dots")])
        assert (refused.status_code, refused.json()) == (
            400,
            {"code": "api", "description": "File 'file1' is missing required name property, or name is invalid."},
        ), (name, refused.text)
    empty = post_raw_upload(f"{srv.url}/api/app/run_event/v1", "", {"id": event["id"]})
    assert empty.status_code == 400 and empty.json()["code"] == "api", empty.text


def test_hostile_upload_names_via_magic_link(srv: Server, sapi: Api) -> None:
    """A magic-link upload with a hostile name is accepted under a safe name and stored inside the
    magic storage directory; one whose name is only dots or empty is refused with a 400, never a 5xx."""
    key = uid("magic")
    event = script_event(sapi, "#!/bin/sh\nls -A1\n", triggers=[{"type": "magic", "enabled": True, "key": key}])
    for name in HOSTILE_NAMES:
        response = httpx.post(
            f"{srv.url}/api/app/magic/v1/{key}/wait", files={"f": (name, b"magic content")}, timeout=60
        )
        if name in UNUSABLE_NAMES:
            assert response.status_code == 400 and response.json()["code"] == "api", (name, response.text)
            continue
        assert response.status_code == 200 and response.json()["code"] == 0, (name, response.text)
        job = response.json()["job"]
        assert job["event"] == event["id"] and job["code"] == 0, job["description"]
        _check_stored(srv, job["input"]["files"], "magic")
        assert job["input"]["files"][0]["filename"] in job["output"].splitlines()
    empty = post_raw_upload(f"{srv.url}/api/app/magic/v1/{key}/wait", "")
    assert empty.status_code == 400 and empty.json()["code"] == "api", empty.text


def test_clean_filename_examples() -> None:
    """Dangerous names map to safe ones; ordinary names keep their form; both copies agree."""
    cases = {
        "..": "file",
        ".": "file",
        "": "file",
        " .. ": "file",
        "a/../../x": "x",
        "/etc/passwd": "passwd",
        "..\\..\\win": "win",
        "-rf": "_-rf",
        "--help": "_--help",
        ".cronwright": "_.cronwright",
        ".CronWright": "_.CronWright",
        "a\nb\r.txt": "a_b_.txt",
        "report (v1).csv": "report (v1).csv",
        ".hidden": ".hidden",
        "...": "...",
    }
    assert {name: clean_filename(name) for name in cases} == cases
    assert {name: store_clean_filename(name) for name in cases} == cases
    assert len(clean_filename("x" * 300 + ".txt")) == 255


@given(st.text())
def test_clean_filename_is_always_safe(name: str) -> None:
    """Any name cleans to a safe, stable, short name without path parts."""
    cleaned = clean_filename(name)
    assert _is_safe(cleaned) and "\0" not in cleaned and len(cleaned.encode()) <= 255
    assert cleaned == cleaned.strip() and clean_filename(cleaned) == cleaned


# -- the runner: scripts, the Test plugin, notices ----------------------------------------------


def test_script_is_not_written_next_to_the_uploads(harness: Harness) -> None:
    """The Shell script lives in a reserved directory of its own and runs by a path relative to
    the job directory: nothing else is in its directory."""
    (harness.cwd / "upload.txt").write_text("upload")
    script = '#!/bin/sh\necho "$0"\nls -A "$(dirname "$0")"\n'
    result, sink = harness.shell(script)
    assert result.code == 0, result.description
    path, *listing = sink.log.splitlines()
    assert not os.path.isabs(path) and listing == [os.path.basename(path)]
    assert os.path.dirname(path) == SCRIPT_DIR


def test_writing_the_script_never_writes_through_an_upload(harness: Harness, tmp_path: Path) -> None:
    """An input file named like the script file the runner used to write (a hard link to the stored
    upload) is neither truncated nor executed."""
    stored = tmp_path / "stored-upload"
    stored.write_text("#!/bin/sh\necho from-upload\n")
    stored.chmod(0o755)
    os.link(stored, harness.cwd / ".cronwright-script-jtest1")
    result, sink = harness.shell("#!/bin/sh\necho from-script\n")
    assert result.code == 0 and sink.log == "from-script\n"
    assert stored.read_text() == "#!/bin/sh\necho from-upload\n"


def test_test_plugin_runs_isolated(harness: Harness, probe_dir: Path) -> None:
    """The Test plugin runs as `python -I`: modules in the job directory and PYTHON* variables of
    the host environment are ignored."""
    for name in ("json.py", "random.py", "cronwright.py"):
        (harness.cwd / name).write_text(marker_writer(probe_dir / f"marker-{name}"))
    (probe_dir / "sitecustomize.py").write_text(marker_writer(probe_dir / "marker-site"))
    base_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(probe_dir)}
    spec = harness.spec("[test-plugin]", params={"duration": 0}, base_env=base_env)
    assert "-I" in prepare_launch(spec).argv[1:3]
    result, _ = harness.run(spec)
    assert (result.code, result.description) == (0, "Success!")
    assert sorted(path.name for path in probe_dir.iterdir()) == ["sitecustomize.py"]


def test_protected_params_are_named_in_a_notice(harness: Harness) -> None:
    """Skipping a protected param leaves a meta-log notice naming it (not its value)."""
    result, sink = harness.shell("#!/bin/sh\ntrue\n", params={"LD_PRELOAD": "/x.so", "PATH": "/x", "fine": 1})
    assert result.code == 0
    notices = [notice for notice in sink.notices if "LD_PRELOAD" in notice]
    assert len(notices) == 1 and "PATH" in notices[0] and "fine" not in notices[0] and "/x.so" not in notices[0]


def test_build_environment_skips_protected_names(tmp_path: Path) -> None:
    """Params and data/server_data keys never override protected names; host variables keep working."""
    job = {
        "id": "j1",
        "params": {"PATH": "/p", "LD_PRELOAD": "x", "JOB_ID": "forged", "a.b": "1", "LD.PRELOAD": "y"},
        "input": {"data": {"PATH": "d"}},
        "serverData": {"LD_PRELOAD": "s"},
    }
    base = {"PATH": "/usr/bin", "LD_LIBRARY_PATH": "/host/lib"}
    env = build_environment(job, base, cwd=tmp_path, log_file="", base_url="")
    assert env["PATH"] == "/usr/bin" and "LD_PRELOAD" not in env and env["JOB_ID"] == "j1"
    assert env["LD_LIBRARY_PATH"] == "/host/lib" and env["a_b"] == "1"
    assert env["data_PATH"] == "d" and env["server_data_LD_PRELOAD"] == "s"


def test_protected_name_table() -> None:
    """The deny-list covers the issue's names and families, in any case; ordinary names pass."""
    protected = [
        *PROTECTED,
        "LD_DEBUG_OUTPUT",
        "IFS",
        "PYTHONHOME",
        "PYTHONWARNINGS",
        "PERL5LIB",
        "PERLLIB",
        "RUBYLIB",
        "JAVA_OPTS",
        "GLIBC_TUNABLES",
        "LOCPATH",
        "NLSPATH",
        "HOSTALIASES",
        "RES_OPTIONS",
        "LOCALDOMAIN",
        "MALLOC_CHECK_",
        "BASH_FUNC_ls__",
        "SHELLOPTS",
        "BASHOPTS",
        "PS4",
        "PROMPT_COMMAND",
        "CDPATH",
        "OPENSSL_CONF",
        "TZDIR",
        "SHELL",
        "USER",
        "LOGNAME",
        "JOB_LOG",
        "JOB_NOW",
        "GIT_SSH_COMMAND",
        "DYLD_INSERT_LIBRARIES",
        "https_proxy",
        "SSL_CERT_FILE",
        "path",
        "Http_Proxy",
        "Npm_Config_node_options",
        "xyops",
    ]
    allowed = ["message", "TZ", "LANG", "url", "script", "data_PATH", "MY_PATH", "JOBS", "DATA", "deployTarget"]
    assert [name for name in protected if not is_protected_env_name(name)] == []
    assert [name for name in allowed if is_protected_env_name(name)] == []


def test_action_plugin_params_cannot_set_protected_variables(tmp_path: Path) -> None:
    """Action-plugin params follow the same rule: PATH, LD_PRELOAD or XYOPS_BASE_URL params do not
    reach the plugin's environment; other params do."""
    plugin = {"command": "/bin/sh", "script": "/usr/bin/env > env.txt\n", "cwd": str(tmp_path)}
    params = {"PATH": "/forged", "LD_PRELOAD": "/forged.so", "XYOPS_BASE_URL": "http://forged", "fine": "yes"}
    outcome = asyncio.run(
        run_action_plugin(
            plugin, params=params, data={}, condition="success", base_url="http://real", env={"PATH": "/usr/bin:/bin"}
        )
    )
    assert outcome.code == 0, outcome.description
    env = parse_env((tmp_path / "env.txt").read_text())
    assert env["PATH"] == "/usr/bin:/bin" and "LD_PRELOAD" not in env
    assert env["XYOPS_BASE_URL"] == "http://real" and env["fine"] == "yes"


# -- output files of a job that runs as another user --------------------------------------------


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file only root can read, in a directory only root can enter."""
    tmp_path.chmod(0o700)
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def open_cwd() -> Iterator[Path]:
    """A job directory another user can write to."""
    path = Path(tempfile.mkdtemp(prefix="cw-runtime-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _escape_script(secret: Path) -> str:
    files = ["link-to-secret", str(secret), [str(secret), "renamed.txt"], "hard-link", "dir-link/secret.txt", "own.txt"]
    return (
        "#!/bin/sh\n"
        f"ln -s {secret} link-to-secret\n"
        f"ln {secret} hard-link 2>/dev/null\n"
        f"ln -s {secret.parent} dir-link\n"
        "echo mine > own.txt\n"
        f"echo '{json.dumps({'xy': 1, 'code': 0, 'files': files})}'\n"
    )


@pytest.mark.skipif(not IS_ROOT, reason="switching users needs root")
def test_runner_refuses_outputs_the_jobs_user_cannot_read(harness: Harness, open_cwd: Path, secret: Path) -> None:
    """A job running as `nobody` that declares a root-only file (directly, through a symbolic link
    to it or to its directory) gets only its own file; each refused entry leaves a notice."""
    result, sink = harness.with_cwd(open_cwd).shell(_escape_script(secret), uid="nobody")
    assert result.code == 0, (result.description, sink.log)
    assert [(file.path.name, file.filename) for file in result.files] == [("own.txt", "own.txt")]
    assert len([notice for notice in result.notices if "Output file" in notice]) >= 4


@pytest.mark.skipif(not IS_ROOT, reason="switching users needs root")
def test_job_as_another_user_cannot_exfiltrate_through_outputs(sapi: Api, srv: Server, secret: Path) -> None:
    """Through the API: a plugin running as `nobody` works in its own job directory, but declaring
    a root-only file (or a link to it) as an output stores nothing of it."""
    plugin = sapi.ok(
        "create_plugin",
        {
            "title": uid("Nobody"),
            "type": "event",
            "command": "/bin/sh",
            "script": _escape_script(secret),
            "uid": "nobody",
        },
    )["plugin"]
    event = create_event(sapi, plugin=plugin["id"], params={})
    job = run_and_wait(sapi, event["id"])
    assert job["code"] == 0, (job["description"], job["output"])
    assert [record["filename"] for record in job["files"]] == ["own.txt"]
    for record in job["files"]:
        assert b"TOP-SECRET" not in (srv.data_dir / record["path"]).read_bytes()


def test_store_never_follows_a_swapped_directory_link(tmp_path: Path) -> None:
    """A directory on the output's path replaced by a symbolic link after the check is refused by the
    store, and so are FIFOs (without blocking) and symbolic links."""
    files = FileStore(tmp_path / "data")
    job_dir = tmp_path / "job"
    (job_dir / "d").mkdir(parents=True)
    (job_dir / "d" / "out.txt").write_text("mine")
    key, size = files.store(job_dir / "d" / "out.txt", parts=("jobs", "j1"), filename="out.txt", move=False)
    assert size == 4 and (files.data_dir / key).read_text() == "mine"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "out.txt").write_text("secret")
    shutil.rmtree(job_dir / "d")
    (job_dir / "d").symlink_to(elsewhere)
    with pytest.raises(OSError):
        files.store(job_dir / "d" / "out.txt", parts=("jobs", "j1"), filename="out.txt", move=True)
    assert (elsewhere / "out.txt").read_text() == "secret"
    os.mkfifo(job_dir / "fifo")
    with pytest.raises(OSError):
        files.store(job_dir / "fifo", parts=("jobs", "j1"), filename="fifo", move=False)
    (job_dir / "link").symlink_to(elsewhere / "out.txt")
    with pytest.raises(OSError):
        files.store(job_dir / "link", parts=("jobs", "j1"), filename="link", move=True)
    assert stat.S_ISLNK(os.lstat(job_dir / "link").st_mode)


def test_store_keeps_the_file_it_opened_when_a_link_is_swapped_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file swapped for a symbolic link between opening and moving is not adopted: storage gets
    the content of the file that was opened, never the link or what it points to."""
    files = FileStore(tmp_path / "data")
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    source = job_dir / "out.txt"
    source.write_text("mine")
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("secret")
    real_rename = os.rename

    def swap_then_rename(src: Any, dst: Any) -> None:
        os.unlink(src)
        os.symlink(elsewhere, src)
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", swap_then_rename)
    key, size = files.store(source, parts=("jobs", "j1"), filename="out.txt", move=True)
    stored = files.data_dir / key
    assert not stored.is_symlink() and stored.read_text() == "mine" and size == 4
    assert elsewhere.read_text() == "secret"
