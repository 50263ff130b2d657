"""From a ``RunSpec`` to what is spawned (plugins.md §3 steps 2–5): argv, environment,
credentials and the job JSON line for stdin.

``prepare_launch`` raises ``LaunchError`` for everything that fails before a process exists
(unknown user or built-in, a script that cannot be written, a command that cannot be split).

Nothing the runner starts is looked up in the job directory, where the input files are: scripts
live in the reserved ``.cronwright/`` subdirectory (``shell.write_script``) and the built-in Test
plugin runs as ``python -I`` (isolated: neither the working directory nor ``PYTHON*`` variables
reach ``sys.path``).
"""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from cronwright.runner.base import RunSpec
from cronwright.runner.environment import (
    MAX_ENV_STRING_BYTES,
    Credentials,
    LaunchError,
    build_environment,
    env_budget,
    resolve_credentials,
)
from cronwright.runner.shell import write_script

_BUILTIN = re.compile(r"\[([\w\-]+)\]")
_VARIABLE = re.compile(r"\$(?:(\w+)|\{(\w+)\})")
_FALSE_TEXT = ("", "0", "false", "no", "off")


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]
    credentials: Credentials
    #: the job JSON line written to the child's stdin
    stdin: bytes
    #: the built-in Shell plugin: script output and exit rules apply
    shell: bool = False
    annotate: bool = False
    #: ``input.data`` to emit as a first ``data`` record (the Shell plugin's legacy ``pass``)
    pass_data: dict[str, Any] | None = None
    #: how a spawn failure is described: "<prefix><error>"
    error_prefix: str = ""
    #: meta-log lines about the launch (params kept out of the environment)
    notices: tuple[str, ...] = ()


def is_truthy(value: Any) -> bool:
    """A checkbox-like param: booleans, numbers, and text other than "", "0", "false", "no", "off"."""
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE_TEXT
    return bool(value)


def expand_variables(text: str, env: Mapping[str, str]) -> str:
    """Replace ``$VAR`` and ``${VAR}`` with their value in ``env`` (unknown → empty)."""
    return _VARIABLE.sub(lambda match: env.get(match[1] or match[2], ""), text)


def job_line(spec: RunSpec, log_file: str) -> bytes:
    """The job document as one JSON line: ``xy: 1``, ``type: "event"``, all job fields, ``cwd``,
    ``log_file`` and (when set) ``base_url``."""
    document: dict[str, Any] = {"xy": 1, "type": "event"}
    document.update((key, value) for key, value in spec.job.items() if key not in ("xy", "type"))
    document["cwd"] = str(spec.cwd)
    document["log_file"] = log_file
    if spec.base_url:
        document["base_url"] = spec.base_url
    try:
        return orjson.dumps(document, default=str, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE)
    except TypeError as exc:
        raise LaunchError(f"Setup Error: the job cannot be encoded as JSON: {exc}") from None


def _write(spec: RunSpec, prefix: str, source: str, mode: int, error_prefix: str) -> Path:
    try:
        return write_script(spec.cwd, prefix, spec.job.get("id", ""), source, mode)
    except OSError as exc:
        raise LaunchError(f"{error_prefix}{exc}") from None


def protected_notice(names: list[str]) -> tuple[str, ...]:
    """The meta-log line naming params that were kept out of the environment (never their values)."""
    return _names_notice(
        "Params not passed as environment variables (protected or upper-case names not declared by the "
        "plugin; they are in the job JSON on stdin): ",
        names,
    )


def oversized_notice(names: list[str]) -> tuple[str, ...]:
    """The meta-log line naming params too large for the environment (never their values)."""
    return _names_notice(
        "Params too large for environment variables (Linux allows "
        f"{MAX_ENV_STRING_BYTES // 1024} KiB per variable; Cronwright uses {env_budget() // 1024} KiB for all of "
        "them) were not passed as variables; they are in the job JSON on stdin: ",
        names,
    )


def _names_notice(text: str, names: list[str]) -> tuple[str, ...]:
    """No line for no names; else ``text`` and the distinct names (cut to 1,000 characters)."""
    if not names:
        return ()
    return (f"{text}{', '.join(dict.fromkeys(names)):.1000}",)


def prepare_launch(spec: RunSpec) -> Launch:
    job = spec.job
    log_file = spec.log_file
    credentials = resolve_credentials(spec.uid, spec.gid)
    skipped: list[str] = []
    oversized: list[str] = []
    env = build_environment(
        job,
        spec.base_env,
        cwd=spec.cwd,
        log_file=log_file,
        base_url=spec.base_url,
        skipped=skipped,
        names=spec.param_names,
        oversized=oversized,
    )
    env.update(credentials.env)
    notices = protected_notice(skipped) + oversized_notice(oversized)
    raw_params = job.get("params")
    params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
    stdin = job_line(spec, log_file)
    command = spec.command.strip()
    builtin = _BUILTIN.fullmatch(command)
    if builtin and builtin[1] == "shell-plugin":
        script = params.get("script")
        source = script if isinstance(script, str) else "" if script is None else str(script)
        path = _write(spec, "script-", source, 0o775, "Script failed: ")
        job_input = job.get("input")
        data = job_input.get("data") if isinstance(job_input, dict) else None
        pass_data = data if is_truthy(params.get("pass")) and isinstance(data, dict) else None
        return Launch(
            argv=[str(path)],
            env=env,
            credentials=credentials,
            stdin=stdin,
            shell=True,
            annotate=is_truthy(params.get("annotate")),
            pass_data=pass_data,
            error_prefix="Script failed: ",
            notices=notices,
        )
    if builtin and builtin[1] == "test-plugin":
        argv = [sys.executable, "-I", "-m", "cronwright.runner.testplugin"]
        return Launch(argv, env, credentials, stdin, error_prefix=f"Child spawn error: {command}: ", notices=notices)
    if builtin:
        raise LaunchError(f"Plugin Error: Unknown built-in plugin: {builtin[1]}")
    try:
        argv = [expand_variables(token, env) for token in shlex.split(command)]
    except ValueError as exc:
        raise LaunchError(f"Child spawn error: {command}: {exc}") from None
    if not argv:
        raise LaunchError("Child spawn error: the plugin command is empty")
    error_prefix = f"Child spawn error: {argv[0]}: "
    if spec.script:
        argv.append(str(_write(spec, "plugin-", spec.script, 0o755, error_prefix)))
    return Launch(argv, env, credentials, stdin, error_prefix=error_prefix, notices=notices)
