"""The child's environment and credentials (plugins.md §3 step 2).

``build_environment`` turns a job into the variables a plugin sees; ``resolve_credentials`` turns
the plugin's ``uid``/``gid`` into the numbers (and passwd variables) to spawn with. Both are pure
look-ups with no side effects, so they are tested without spawning anything.
"""

from __future__ import annotations

import grp
import math
import os
import pwd
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

import cronwright

_NON_WORD = re.compile(r"\W+")


class LaunchError(Exception):
    """The job cannot be started; the result gets ``code`` and ``description``."""

    def __init__(self, description: str, code: int | str = 1) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def format_number(value: float) -> str:
    """A number as JavaScript's ``String(n)`` writes it (``1.0`` → ``"1"``)."""
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    return str(value)


def encode_value(value: Any) -> str:
    """A JSON value as environment text: strings as-is, booleans ``true``/``false``, numbers as
    text, ``None`` empty, objects and lists compact JSON. NUL bytes cannot be passed and are dropped."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = format_number(value)
    elif value is None:
        text = ""
    else:
        text = orjson.dumps(value, default=str).decode()
    return text.replace("\0", "") if "\0" in text else text


def _put_all(env: dict[str, str], prefix: str, values: Any) -> None:
    if not isinstance(values, Mapping):
        return
    for key, value in values.items():
        name = prefix + _NON_WORD.sub("_", str(key))
        if name:
            env[name] = encode_value(value)


def build_environment(
    job: dict[str, Any], base_env: dict[str, str], *, cwd: Path, log_file: str, base_url: str
) -> dict[str, str]:
    """The plugin process environment: ``base_env`` without ``XYOPS_*`` variables, the documented
    job variables, every param, ``data_<k>`` per input data key and ``server_data_<k>`` per server
    data key (later entries win, so a param may override a host variable, as in xyOps)."""
    env = {key: value for key, value in base_env.items() if not key.startswith("XYOPS_")}
    env["CRONWRIGHT"] = "1"
    env["XYOPS"] = cronwright.__version__
    env["JOB_ID"] = str(job.get("id", ""))
    env["JOB_NOW"] = encode_value(job.get("now", ""))
    env["JOB_BASE_URL"] = base_url
    env["JOB_LOG"] = log_file
    env["PWD"] = str(cwd)
    _put_all(env, "", job.get("params"))
    job_input = job.get("input")
    if isinstance(job_input, Mapping):
        _put_all(env, "data_", job_input.get("data"))
    _put_all(env, "server_data_", job.get("serverData"))
    return env


@dataclass(frozen=True)
class Credentials:
    """Who the child runs as: ``Popen`` keyword arguments plus the passwd variables."""

    user: int | None = None
    group: int | None = None
    extra_groups: list[int] | None = None
    env: dict[str, str] = field(default_factory=dict)

    def popen_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.user is not None:
            kwargs["user"] = self.user
        if self.group is not None:
            kwargs["group"] = self.group
        if self.extra_groups is not None:
            kwargs["extra_groups"] = self.extra_groups
        return kwargs


def _is_unset(value: str | int | None) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _is_number(value: str | int) -> bool:
    return isinstance(value, int) or value.strip().isdigit()


def resolve_credentials(uid: str | int | None, gid: str | int | None) -> Credentials:
    """Resolve a run-as user and group (names or numbers). With a user, the group defaults to the
    user's primary group, supplementary groups become the user's (when we may set them) and
    ``USER``, ``USERNAME``, ``HOME``, ``SHELL`` come from the passwd entry."""
    user: int | None = None
    group: int | None = None
    extra: list[int] | None = None
    env: dict[str, str] = {}
    if not _is_unset(uid):
        assert uid is not None
        try:
            entry = pwd.getpwuid(int(uid)) if _is_number(uid) else pwd.getpwnam(str(uid).strip())
        except (KeyError, OverflowError, ValueError):
            raise LaunchError(f"Plugin Error: User does not exist: {uid}") from None
        user, group = entry.pw_uid, entry.pw_gid
        env = {"USER": entry.pw_name, "USERNAME": entry.pw_name, "HOME": entry.pw_dir, "SHELL": entry.pw_shell}
    if not _is_unset(gid):
        assert gid is not None
        try:
            group = grp.getgrgid(int(gid)).gr_gid if _is_number(gid) else grp.getgrnam(str(gid).strip()).gr_gid
        except (KeyError, OverflowError, ValueError):
            raise LaunchError(f"Plugin Error: Group does not exist: {gid}") from None
    if user is not None and group is not None and os.geteuid() == 0:
        # drop the conductor's supplementary groups (root's group 0 among them)
        extra = os.getgrouplist(env["USER"], group)
    return Credentials(user=user, group=group, extra_groups=extra, env=env)
