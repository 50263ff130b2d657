"""The child's environment and credentials (plugins.md §3 step 2).

``build_environment`` turns a job into the variables a plugin sees; ``resolve_credentials`` turns
the plugin's ``uid``/``gid`` into the numbers (and passwd variables) to spawn with. Both are pure
look-ups with no side effects, so they are tested without spawning anything.

Params (and ``data_``/``server_data_`` keys, and action-plugin params) come from whoever may run
the job, up to an anonymous magic-link caller, so they never set a variable that changes how a
process loads code or resolves commands, libraries, modules, configuration or hosts, nor the
runner's own variables (``is_protected_env_name``), and by default only names with a lower-case
letter or declared by the plugin become variables at all (``ParamNames``). Such params still reach the plugin in
the job JSON on stdin. Host variables (the conductor's environment, config ``job_env``) are not
params and are passed unchanged.

Linux refuses to start a program (``E2BIG``, "Argument list too long") when one environment string
is longer than ``MAX_ENV_STRING_BYTES`` or all of them with the arguments exceed ``ARG_MAX``; a
param that would not fit (``MAX_ENV_STRING_BYTES`` each, ``env_budget()`` in all) is left out of the
environment and reaches the plugin in the job JSON only.
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

#: Linux's limit for one environment string, ``NAME=value`` and its NUL byte (MAX_ARG_STRLEN)
MAX_ENV_STRING_BYTES = 131072
#: at most this much of the environment (strings and pointers) for a job; the rest of ``ARG_MAX``
#: stays for the arguments
MAX_ENV_TOTAL_BYTES = 1024 * 1024

#: Environment names a param may never set, in any case (``is_protected_env_name``).
PROTECTED_ENV_NAMES: frozenset[str] = frozenset(
    {
        # command lookup and shell start-up: a shell reads or runs these before the script does
        *("PATH", "IFS", "ENV", "CDPATH", "GLOBIGNORE", "SHELLOPTS", "BASHOPTS", "EXECIGNORE"),
        *("PROMPT_COMMAND", "PS0", "PS1", "PS2", "PS3", "PS4", "FPATH", "ZDOTDIR", "INPUTRC"),
        # who and where the job is: set by the runner or from the run-as user's passwd entry
        *("HOME", "SHELL", "USER", "USERNAME", "LOGNAME", "PWD", "OLDPWD"),
        # glibc: the variables the dynamic loader drops for set-user-ID programs (UNSECURE_ENVVARS)
        *("GCONV_PATH", "GETCONF_DIR", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH", "NIS_PATH", "NLSPATH"),
        *("RESOLV_HOST_CONF", "RES_OPTIONS", "TMPDIR", "TZDIR"),
        # interpreters and toolchains: module search paths, start-up code, option injection
        *("PERLLIB", "CLASSPATH", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS", "PHPRC", "PHP_INI_SCAN_DIR"),
        *("TCLLIBPATH", "R_LIBS", "R_LIBS_USER", "R_PROFILE", "R_PROFILE_USER", "R_ENVIRON", "R_ENVIRON_USER"),
        *("GOFLAGS", "GOROOT", "GOPATH", "GOENV", "GOPROXY", "GOTOOLCHAIN", "TERMINFO", "TERMINFO_DIRS"),
        # programs started by name from a variable
        *("EDITOR", "VISUAL", "PAGER", "MANPAGER", "BROWSER", "LESSOPEN", "LESSCLOSE"),
        *("SUDO_ASKPASS", "SSH_ASKPASS", "SSH_ASKPASS_REQUIRE", "SSH_AUTH_SOCK"),
        # configuration files that name commands to run, or whom to trust and where to connect
        *("KUBECONFIG", "DOCKER_CONFIG", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "CURL_HOME"),
        *("WGETRC", "NETRC", "SSL_CERT_FILE", "SSL_CERT_DIR", "SSLKEYLOGFILE", "REQUESTS_CA_BUNDLE"),
        *("CURL_CA_BUNDLE", "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"),
        *("ALL_PROXY", "no_proxy", "NO_PROXY", "ftp_proxy", "FTP_PROXY"),
    }
)

#: Name prefixes a param may never use: whole families of loader, allocator, interpreter and
#: runner variables (``LD_PRELOAD``, ``MALLOC_TRACE``, ``PYTHONPATH``, ``BASH_ENV``,
#: ``BASH_FUNC_x%%``, ``NODE_OPTIONS``, ``JAVA_TOOL_OPTIONS``, ``GIT_SSH_COMMAND``, ``JOB_ID`` ...).
PROTECTED_ENV_PREFIXES: tuple[str, ...] = (
    *("LD_", "DYLD_", "GLIBC_", "MALLOC_", "BASH_", "PYTHON", "PERL", "RUBY", "GEM_", "BUNDLE_"),
    *("NODE_", "npm_config_", "NPM_CONFIG_", "JAVA_", "LUA_", "DOTNET_", "CORECLR_", "COMPlus_"),
    *("OPENSSL_", "GIT_", "PIP_", "XDG_"),
    # the runner's own variables
    *("JOB_", "CRONWRIGHT", "XYOPS"),
)


_PROTECTED_UPPER = frozenset(n.upper() for n in PROTECTED_ENV_NAMES)
_PREFIXES_UPPER = tuple(dict.fromkeys(p.upper() for p in PROTECTED_ENV_PREFIXES))


def is_protected_env_name(name: str) -> bool:
    """Whether ``name`` is on the deny-list: no param or data key may ever set it. Compared without
    regard to case: some programs read their variables in any case (npm's ``npm_config_*``, Python's
    proxy variables, zsh's ``path``)."""
    upper = name.upper()
    return upper in _PROTECTED_UPPER or upper.startswith(_PREFIXES_UPPER)


@dataclass(frozen=True)
class ParamNames:
    """Which param names become environment variables besides the deny-list.

    POSIX leaves environment names made only of upper-case letters, digits and ``_`` to the system
    and its utilities (``TAR_OPTIONS``, ``RSYNC_RSH``, ``MAKEFLAGS`` … each run commands or change
    behaviour) and the names with lower-case letters to applications. A deny-list cannot know every
    tool, so by default a param is exported only when its name has a lower-case letter
    (``message``, ``deployTarget``) or the plugin declares it in its param definitions (chosen by an
    administrator: lock it if callers must not set it). ``upper_case`` (setting
    ``job_param_env = "all"``) exports every name, as xyOps does. The deny-list always applies.
    Whatever is not exported still reaches the plugin in the job JSON on stdin."""

    declared: frozenset[str] = frozenset()
    upper_case: bool = False

    def allows(self, name: str) -> bool:
        if is_protected_env_name(name):
            return False
        return self.upper_case or name in self.declared or name != name.upper()


#: the default: lower-case names only (nothing declared)
LOWER_CASE_ONLY = ParamNames()


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


def env_name(prefix: str, key: Any) -> str:
    """The variable name of a param or data key: ``prefix`` + the key with ``\\W+`` → ``_``."""
    return prefix + _NON_WORD.sub("_", str(key))


def put_params(
    env: dict[str, str],
    prefix: str,
    values: Any,
    skipped: list[str] | None = None,
    names: ParamNames = LOWER_CASE_ONLY,
    oversized: list[str] | None = None,
) -> list[str]:
    """Set ``<prefix><key>`` for each entry of ``values`` (a mapping) that ``names`` allows; the
    names it refuses are appended to ``skipped``, those too long for one environment string
    (``MAX_ENV_STRING_BYTES``) to ``oversized``. Returns the names set."""
    if not isinstance(values, Mapping):
        return []
    done = []
    for key, value in values.items():
        name = env_name(prefix, key)
        if not name:
            continue
        if not names.allows(name):
            if skipped is not None:
                skipped.append(name)
            continue
        text = encode_value(value)
        if env_bytes(name, text) > MAX_ENV_STRING_BYTES:
            if oversized is not None:
                oversized.append(name)
            continue
        env[name] = text
        done.append(name)
    return done


def env_bytes(name: str, value: str) -> int:
    """Bytes of ``NAME=value`` and its NUL byte, as the kernel counts them."""
    return len(name.encode("utf-8", "surrogatepass")) + len(value.encode("utf-8", "surrogatepass")) + 2


def env_budget() -> int:
    """Bytes the whole environment of a job may take: ``MAX_ENV_TOTAL_BYTES``, or half of
    ``ARG_MAX`` when that is smaller."""
    try:
        arg_max = os.sysconf("SC_ARG_MAX")
    except (ValueError, OSError):
        arg_max = -1
    return min(MAX_ENV_TOTAL_BYTES, arg_max // 2) if arg_max > 0 else MAX_ENV_TOTAL_BYTES


def _fit_environment(env: dict[str, str], base_env: Mapping[str, str], params: list[str], budget: int) -> list[str]:
    """Leave out the largest param variables until ``env`` fits ``budget`` (a host variable a
    param had replaced gets its value back); returns the names left out."""
    size = sum(env_bytes(k, v) + 8 for k, v in env.items())  # + the pointer to each string
    dropped = []
    for name in sorted(dict.fromkeys(params), key=lambda n: env_bytes(n, env[n]), reverse=True):
        if size <= budget:
            break
        size -= env_bytes(name, env[name]) + 8
        del env[name]
        dropped.append(name)
        if name in base_env and not name.startswith("XYOPS_"):
            env[name] = base_env[name]
            size += env_bytes(name, env[name]) + 8
    return dropped


def build_environment(
    job: dict[str, Any],
    base_env: dict[str, str],
    *,
    cwd: Path,
    log_file: str,
    base_url: str,
    skipped: list[str] | None = None,
    names: ParamNames = LOWER_CASE_ONLY,
    oversized: list[str] | None = None,
) -> dict[str, str]:
    """The plugin process environment: ``base_env`` without ``XYOPS_*`` variables, the documented
    job variables, the params ``names`` allows, ``data_<k>`` per input data key and
    ``server_data_<k>`` per server data key (later entries win, so a param may override an
    ordinary host variable, as in xyOps). Refused names are appended to ``skipped``, names of
    params too large for the environment (one string, or all together) to ``oversized``."""
    env = {key: value for key, value in base_env.items() if not key.startswith("XYOPS_")}
    env["CRONWRIGHT"] = "1"
    env["XYOPS"] = cronwright.__version__
    env["JOB_ID"] = str(job.get("id", ""))
    env["JOB_NOW"] = encode_value(job.get("now", ""))
    env["JOB_BASE_URL"] = base_url
    env["JOB_LOG"] = log_file
    env["PWD"] = str(cwd)
    # uploaded files sit in the job directory: Python (3.11+) must not import them as modules for
    # ``python -c``/``-m`` or a script there (docs/security.md); params cannot unset it (PYTHON*)
    env["PYTHONSAFEPATH"] = "1"
    too_large: list[str] = []
    params = put_params(env, "", job.get("params"), skipped, names, too_large)
    job_input = job.get("input")
    if isinstance(job_input, Mapping):
        params += put_params(env, "data_", job_input.get("data"), skipped, names, too_large)
    params += put_params(env, "server_data_", job.get("serverData"), skipped, names, too_large)
    too_large += _fit_environment(env, base_env, params, env_budget())
    if oversized is not None:
        oversized.extend(too_large)
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
