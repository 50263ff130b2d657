"""Run an action plugin for one action (plugins.md §8).

The command is split shell-style (``$VAR`` expanded from the child environment), the plugin's
``script`` (if any) is written to a temporary executable file appended as the last argument, and the
child gets its own session/process group. It reads one JSON line on stdin (the hook data plus
``xy:1, type:"action", condition, params, secrets, base_url``). A non-zero exit, a signal, a spawn
error or the timeout give ``code "plugin"`` (on timeout the whole process group is killed); a clean
exit gives code 0, unless the last stdout line is JSON with a truthy ``xy`` whose ``code``,
``description`` and ``details`` then override the result.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import orjson

import cronwright
from cronwright import jsonutil
from cronwright.runner.environment import LOWER_CASE_ONLY, ParamNames, put_params
from cronwright.runner.launch import expand_variables

from .outcome import Outcome
from .report import code_block

DEFAULT_TIMEOUT_S: Final = 60.0
#: stdout kept (its tail, for the last line) and stderr kept (its head, for the first line)
MAX_STDOUT_BYTES: Final = 1024 * 1024
MAX_STDERR_BYTES: Final = 64 * 1024
#: how long pipes may stay open after the main process exits (a lingering child holding them)
_PIPE_GRACE_S: Final = 2.0
_POLL_S: Final = 0.02


async def run_action_plugin(
    plugin: Mapping[str, Any],
    *,
    params: Mapping[str, Any],
    data: Mapping[str, Any],
    condition: str,
    base_url: str,
    env: Mapping[str, str],
    timeout_s: float | None = None,
    upper_case_params: bool = False,
) -> Outcome:
    """Run ``plugin`` once; never raises. Params become environment variables as for jobs
    (``ParamNames``: the plugin's declared ids, lower-case names, or all with ``upper_case_params``)."""
    started = time.monotonic()
    defs = plugin.get("params")
    declared = frozenset(d["id"] for d in defs or [] if isinstance(d, Mapping) and isinstance(d.get("id"), str))
    names = ParamNames(declared=declared, upper_case=upper_case_params)
    outcome = await _run(plugin, params, data, condition, base_url, env, timeout_s, names)
    outcome.elapsed_ms = round((time.monotonic() - started) * 1000, 3)
    return outcome


def child_environment(
    env: Mapping[str, str], params: Mapping[str, Any], base_url: str, names: ParamNames = LOWER_CASE_ONLY
) -> dict[str, str]:
    """``env`` + ``XYOPS`` + ``XYOPS_BASE_URL`` + each param ``names`` allows as ``<key with \\W+ → _>``
    (params win over ordinary host variables, but never set a protected name such as ``PATH``,
    ``LD_*`` or ``XYOPS_*``: see ``cronwright.runner.environment.ParamNames``)."""
    child = {str(key): str(value) for key, value in env.items()}
    child["XYOPS"] = cronwright.__version__
    child["XYOPS_BASE_URL"] = base_url
    put_params(child, "", params, names=names)
    return child


def stdin_line(data: Mapping[str, Any], params: Mapping[str, Any], condition: str, base_url: str) -> bytes:
    """The one JSON line written to the plugin's stdin."""
    document = {**data, "xy": 1, "type": "action", "condition": condition, "params": dict(params)}
    document.update(secrets={}, base_url=base_url)
    return orjson.dumps(document, default=str, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE)


def _timeout(plugin: Mapping[str, Any], timeout_s: float | None) -> float:
    for value in (timeout_s, plugin.get("timeout")):
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < float("inf"):
            return float(value)
    return DEFAULT_TIMEOUT_S


async def _run(
    plugin: Mapping[str, Any],
    params: Mapping[str, Any],
    data: Mapping[str, Any],
    condition: str,
    base_url: str,
    env: Mapping[str, str],
    timeout_s: float | None,
    names: ParamNames,
) -> Outcome:
    params = params if isinstance(params, Mapping) else {}
    child_env = child_environment(env, params, base_url, names)
    command = str(plugin.get("command") or "").strip()
    try:
        argv = [expand_variables(token, child_env) for token in shlex.split(command)]
    except ValueError as exc:
        return Outcome("plugin", f"Invalid plugin command: {command}: {exc}")
    if not argv:
        return Outcome("plugin", "Action plugin has no command.")
    if re.fullmatch(r"\[[\w-]+\]", argv[0]):
        return Outcome("plugin", f"Built-in runners cannot run action plugins: {argv[0]}")
    cwd_setting = str(plugin.get("cwd") or "").strip()
    if cwd_setting and not Path(cwd_setting).is_dir():
        return Outcome("plugin", f"Working directory not found: {cwd_setting}")
    try:
        payload = stdin_line(data, params, condition, base_url)
    except (TypeError, orjson.JSONEncodeError) as exc:
        return Outcome("plugin", f"The action data cannot be encoded as JSON: {exc}")
    with contextlib.ExitStack() as stack:
        cwd = cwd_setting or stack.enter_context(
            tempfile.TemporaryDirectory(prefix="cronwright-action-", ignore_cleanup_errors=True)
        )
        script = plugin.get("script")
        if isinstance(script, str) and script.strip():
            argv.append(_write_script(script, stack))
        return await _supervise(argv, cwd, child_env, payload, _timeout(plugin, timeout_s))
    raise AssertionError("unreachable")  # pragma: no cover


def _write_script(script: str, stack: contextlib.ExitStack) -> str:
    with tempfile.NamedTemporaryFile("w", delete=False, prefix="cronwright-action-", suffix=".script") as handle:
        handle.write(script.replace("\r\n", "\n"))
    path = Path(handle.name)
    stack.callback(path.unlink, missing_ok=True)
    path.chmod(0o755)
    return str(path)


async def _supervise(argv: list[str], cwd: str, env: dict[str, str], payload: bytes, timeout_s: float) -> Outcome:
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return Outcome("plugin", f"Child spawn error: {argv[0]}: {reason}")
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    stdout = asyncio.ensure_future(_read_tail(proc.stdout, MAX_STDOUT_BYTES))
    stderr = asyncio.ensure_future(_read_head(proc.stderr, MAX_STDERR_BYTES))
    deadline = time.monotonic() + timeout_s
    timed_out = False
    try:
        try:
            async with asyncio.timeout(timeout_s):
                await _feed(proc.stdin, payload)
                await _exited(proc)
        except TimeoutError:
            timed_out = True
            _kill_group(proc.pid)
            await _exited(proc, _PIPE_GRACE_S)
        grace = max(0.0, min(_PIPE_GRACE_S, deadline - time.monotonic()))
        _, lingering = await asyncio.wait({stdout, stderr}, timeout=grace)
        if lingering:  # a descendant still holds the pipes open: end the whole group
            _kill_group(proc.pid)
            await asyncio.wait(lingering, timeout=_PIPE_GRACE_S)
    finally:
        if proc.returncode is None:  # cancelled: never leave the plugin running
            _kill_group(proc.pid)
            await _exited(proc, _PIPE_GRACE_S)
        for task in (stdout, stderr):
            if not task.done():
                task.cancel()
    out = stdout.result() if stdout.done() and not stdout.cancelled() else b""
    err = stderr.result() if stderr.done() and not stderr.cancelled() else b""
    return _result(proc.returncode, timed_out, timeout_s, out, err)


async def _exited(proc: asyncio.subprocess.Process, limit_s: float | None = None) -> None:
    """Wait for the main process to exit (``Process.wait`` on Python 3.11 also waits for every pipe
    to close, which a lingering descendant may prevent)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(limit_s):
            while proc.returncode is None:
                await asyncio.sleep(_POLL_S)


async def _feed(stdin: asyncio.StreamWriter, payload: bytes) -> None:
    """Write the JSON line and close stdin; a plugin that does not read it is not an error."""
    try:
        stdin.write(payload)
        await stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        stdin.close()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await stdin.wait_closed()


async def _read_tail(stream: asyncio.StreamReader, limit: int) -> bytes:
    kept = bytearray()
    while chunk := await stream.read(65536):
        kept += chunk
        if len(kept) > limit:
            del kept[: len(kept) - limit]
    return bytes(kept)


async def _read_head(stream: asyncio.StreamReader, limit: int) -> bytes:
    kept = bytearray()
    while chunk := await stream.read(65536):
        if len(kept) < limit:
            kept += chunk[: limit - len(kept)]
    return bytes(kept)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _result(returncode: int | None, timed_out: bool, timeout_s: float, out: bytes, err: bytes) -> Outcome:
    stderr_text = err.decode("utf-8", "replace").strip()
    first_error = next((line.strip() for line in stderr_text.splitlines() if line.strip()), "")
    details = f"**Error output:**\n\n{code_block(stderr_text[:4096])}" if stderr_text else ""
    if timed_out:
        return Outcome("plugin", f"Action plugin timed out after {timeout_s:g} s (killed)", details)
    if returncode is None or returncode != 0:
        if returncode is not None and returncode < 0:
            try:
                how = f"killed by signal {signal.Signals(-returncode).name}"
            except ValueError:
                how = f"killed by signal {-returncode}"
        else:
            how = f"exit code {returncode}"
        suffix = f": {first_error}" if first_error else ""
        return Outcome("plugin", f"Action plugin failed ({how}){suffix}", details)
    lines = [line for line in out.splitlines() if line.strip()]
    report = _last_json(lines[-1]) if lines else None
    if report is None:
        return Outcome(0, "Action plugin completed.", details)
    code = _code(report.get("code", 0))
    description = report.get("description")
    extra = report.get("details")
    if extra is not None and not isinstance(extra, str):
        extra = code_block(orjson.dumps(extra, default=str, option=orjson.OPT_INDENT_2).decode(), "json")
    default = "Action plugin completed." if code == 0 else f"Action plugin reported an error (code {code})."
    return Outcome(code, str(description) if description else default, extra if extra is not None else details)


def _last_json(line: bytes) -> dict[str, Any] | None:
    try:
        value = jsonutil.loads_untrusted(line)
    except jsonutil.JSONDecodeError:
        return None
    return value if isinstance(value, dict) and value.get("xy") else None


def _code(value: Any) -> int | str:
    if value is None or value is False or value == "":
        return 0
    if value is True:
        return "plugin"
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int | str):
        return value
    return str(value)
