"""The satellite wire protocol (servers-agents.md §5), shared by the conductor, ``cronwright agent``
and stock xySat agents: one protocol, two clients.

Frames are JSON text ``{"cmd": KIND, "data": OBJECT}`` both ways over one WebSocket that the agent
opens to ``ws(s)://HOST:PORT/``. Unparseable frames, and frames whose ``data`` is not an object, are
ignored. Credentials are sha256 hex digests over the cluster secret (``secret_key`` in global
state), which never leaves the conductors:

- a server's token: ``sha256_hex(server_id + secret_key)`` (recomputed, never stored);
- the join answer: the server token (``join {token}``).

Cronwright extensions (a stock satellite ignores them, a Cronwright conductor accepts frames without
them): ``job_log`` carries ``offset``, the byte offset of ``text`` in the job's log, so a replay after a
reconnect is appended exactly once; ``finish_job`` carries ``log_size``, the job's full log length,
which the conductor waits for (briefly) before it finishes the job.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import unicodedata
from typing import Any, Final

from cronwright import jsonutil

# ---- commands, conductor → agent
HELLO: Final = "hello"
REDIRECT: Final = "redirect"
RETRY: Final = "retry"
AUTH_FAILURE: Final = "auth_failure"
JOINED: Final = "joined"
ECHO: Final = "echo"
LAUNCH_JOB: Final = "launch_job"
ABORT_JOB: Final = "abort_job"
UPDATE: Final = "update"
MASTER_DATA: Final = "masterData"
UPDATE_CONFIG: Final = "updateConfig"
UNINSTALL: Final = "uninstall"

# ---- commands, agent → conductor
JOIN: Final = "join"
ECHOBACK: Final = "echoback"
JOBS: Final = "jobs"
JOB_LOG: Final = "job_log"
JOB_META: Final = "job_meta"
MONITOR: Final = "monitor"
NOTICES: Final = ("notice", "error", "warning", "critical")

# ---- timers (servers-agents.md §5.4), seconds
PING_FREQ_S: Final = 5.0
PING_TIMEOUT_S: Final = 30.0
AUTH_TIMEOUT_S: Final = 30.0
AGENT_PING_TIMEOUT_S: Final = 60.0
CONNECT_TIMEOUT_S: Final = 5.0
RECONNECT_MIN_S: Final = 1.0
RECONNECT_MAX_S: Final = 30.0
#: how often an agent reports its running jobs (``jobs``)
JOBS_INTERVAL_S: Final = 1.0

#: the job keys a ``jobs`` report may not change on the conductor (§6.2)
REPORT_DROPPED_KEYS: Final = ("activity", "log_file", "log_file_size", "actions", "limits", "tags")

_HOSTNAME_JUNK = re.compile(r"[^A-Za-z0-9_.\-]")
_WORD_ID = re.compile(r"^[a-z0-9_]+$")


def encode(cmd: str, data: dict[str, Any] | None = None) -> str:
    return json.dumps({"cmd": cmd, "data": data or {}}, separators=(",", ":"), default=str)


def decode(text: str | bytes) -> tuple[str, dict[str, Any]] | None:
    """``(cmd, data)`` of a frame, or None for anything that is not a frame (ignored): invalid JSON,
    lone surrogates, nesting deeper than an HTTP body may have (``MAX_JSON_DEPTH``), no object."""
    try:
        frame = jsonutil.loads_untrusted(text)
    except (ValueError, UnicodeError, RecursionError, jsonutil.JSONTooDeep):
        return None
    if not isinstance(frame, dict) or not isinstance(frame.get("cmd"), str):
        return None
    data = frame.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return None
    return frame["cmd"], data


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def server_token(server_id: str, secret_key: str) -> str:
    """The server's credential: ``sha256_hex(server_id + secret_key)``."""
    return sha256_hex(server_id + secret_key)


def same_secret(given: Any, expected: str) -> bool:
    """Constant-time comparison; anything but a string is no match."""
    return isinstance(given, str) and hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def normalize_hostname(name: Any) -> str:
    """Lower-cased, Unicode folded to ASCII, every character outside ``[A-Za-z0-9_.-]`` removed (§2)."""
    folded = unicodedata.normalize("NFKD", str(name or "")).encode("ascii", "ignore").decode()
    return _HOSTNAME_JUNK.sub("", folded.lower())[:253]


def valid_id(value: Any) -> bool:
    """A job or server id as the satellite HTTP calls accept it (``^[a-z0-9_]+$``)."""
    return isinstance(value, str) and bool(_WORD_ID.match(value)) and len(value) <= 64
