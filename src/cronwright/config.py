"""Settings: built once at start-up and passed down (no module-level instance).

Sources, strongest first: command-line options, ``CRONWRIGHT_*`` environment variables, a TOML
config file (``--config``/``CRONWRIGHT_CONFIG``, else ``<data_dir>/config.toml`` when present), and
the defaults below. docs/configuration.md lists every setting.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "CRONWRIGHT_"
#: ``CRONWRIGHT_*`` environment variables that are not settings, so the settings check lets them
#: pass: the config file's path, the first start's credentials (engine/setup.py), the command-line
#: client's server and key, and the test suite's PostgreSQL switches (tests/conftest.py)
OTHER_ENV_VARS = frozenset(
    ENV_PREFIX + name for name in ("CONFIG", "ADMIN_KEY", "ADMIN_PASSWORD", "URL", "API_KEY", "TEST_PG", "TEST_PG_URL")
)


class ConfigError(ValueError):
    """A setting has a value Cronwright cannot use."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 5522
    data_dir: Path = Path("data")
    db_url: str = ""  # empty: SQLite file <data_dir>/cronwright.db
    #: this conductor's id among those sharing the database (docs/ha.md); empty = the host name
    #: (SQLite) or ``host:port`` (PostgreSQL), stable across restarts
    conductor_id: str = ""
    #: default time zone for schedules (IANA name); empty = the host's local zone
    tz: str = ""
    #: largest accepted request body (JSON or form), bytes
    max_body_bytes: int = 16 * 1024 * 1024
    #: largest Shell-plugin ``script`` an event may store (create_event/update_event refuse more), bytes
    max_script_bytes: int = 1024 * 1024
    #: largest accepted multipart upload (all files of one request), bytes
    max_upload_bytes: int = 1024 * 1024 * 1024
    #: lifetime of a login session, seconds
    session_ttl_s: int = 30 * 86400
    #: how often the local server's load and memory are sampled, seconds
    server_info_interval_s: float = 10.0
    #: the conductor's own machine is a server that runs jobs; false: only agents run jobs and the
    #: local machine is not listed as a server
    local_worker: bool = True
    #: base URL shown in links and printed at start-up; empty = http://host:port
    base_url: str = ""
    #: server log level: ``debug``, ``info``, ``warning``, ``error``, optionally followed by
    #: ``,logger=level`` pairs (``info,cronwright.scheduler=debug``); see docs/observability.md
    log_level: str = "info"
    #: server log lines: ``text`` (for people) or ``json`` (one object per line)
    log_format: str = "text"
    #: levels per component (logger name → level), e.g. ``{"cronwright.scheduler" = "debug"}``
    log_levels: dict[str, str] = field(default_factory=dict)
    #: 1: log every HTTP request (``cronwright.access``: endpoint, status, time; never a query or token)
    access_log: int = 0
    #: the Prometheus ``/metrics`` endpoint: ``off`` (404), ``open`` or ``token`` (``Authorization:
    #: Bearer <metrics_token>``)
    metrics: str = "off"
    metrics_token: str = ""
    #: global launch brake: jobs per clock minute (0 = no limit)
    max_jobs_per_min: int = 100
    #: an active job without any update for this long is aborted as dead, seconds
    dead_job_timeout_s: float = 120.0
    #: grace period between SIGTERM and SIGKILL when a job is aborted, seconds
    child_kill_timeout_s: float = 10.0
    #: how often a running job's CPU and memory are sampled, seconds
    job_sample_interval_s: float = 1.0
    #: the largest output file a job may store (its $JOB_LOG too), bytes; larger ones are left out
    #: and noted on the job (0 = no limit)
    job_output_file_max_bytes: int = 4 * 1024**3
    #: environment variables added to every job's process
    job_env: dict[str, str] = field(default_factory=dict)
    #: limits and actions appended to every job: {"default": [...], "workflow": [...]}
    job_universal_limits: dict[str, Any] = field(default_factory=dict)
    job_universal_actions: dict[str, Any] = field(default_factory=dict)
    #: outgoing e-mail (email actions, limit notifications)
    smtp_host: str = ""
    smtp_port: int = 25
    #: "none", "starttls" or "ssl"
    smtp_security: str = "none"
    smtp_username: str = ""
    smtp_password: str = ""
    email_from: str = "cronwright@localhost"
    smtp_timeout_s: float = 10.0
    #: defaults for web hooks that do not set their own
    web_hook_timeout_s: float = 30.0
    web_hook_retries: int = 0
    #: a startup trigger fires only when the server process has been up for less than this, seconds
    min_startup_trigger_uptime_s: float = 300.0
    #: magic links and forms: requests per minute from one client address / for one link (0 = no limit)
    magic_max_per_min_ip: int = 120
    magic_max_per_min_link: int = 60
    #: networks web hooks may reach: comma-separated CIDRs, addresses or keywords (loopback, private,
    #: link-local, multicast, internal, any); empty = every destination (xyOps behaviour)
    web_hook_allow_networks: str = ""
    #: networks web hooks may never reach (same forms; wins over the allow list), e.g. "internal"
    web_hook_deny_networks: str = ""
    #: failed logins for one user name (any case) within ``login_failure_window_s`` after which
    #: its logins answer 429 ``rate`` (0 = no limit)
    login_max_failures_per_user: int = 5
    #: failed logins from one client IP within ``login_failure_window_s`` after which its logins
    #: answer 429 ``rate`` (0 = no limit)
    login_max_failures_per_ip: int = 20
    #: the sliding window of the failed-login limits, seconds
    login_failure_window_s: float = 300.0
    #: password hashes computed at the same time, on their own threads (Argon2id: 64 MiB each)
    password_hash_workers: int = 2
    #: reverse proxies whose ``X-Forwarded-For`` / ``X-Forwarded-Proto`` are believed: IP addresses
    #: or CIDR networks separated by commas or spaces (empty = none: the peer address is the client)
    trusted_proxies: str = ""
    #: a connection must deliver a request's complete headers within this, seconds (counted from
    #: its start, or from the first byte of a later request on a kept-alive connection)
    http_header_timeout_s: float = 10.0
    #: a request body may pause this long between two pieces before the request ends (408), seconds
    http_body_timeout_s: float = 30.0
    #: a client that accepts no response data for this long is disconnected, seconds
    http_send_timeout_s: float = 60.0
    #: an idle keep-alive connection is closed after this, seconds
    http_keepalive_timeout_s: float = 5.0
    #: connections held at once; more are refused (503) so job processes keep their file
    #: descriptors (lowered at start to leave a quarter of the open-files limit free)
    http_max_connections: int = 1000
    #: which params become job environment variables: "lowercase" (names with a lower-case letter, or
    #: declared by the plugin) or "all" (as xyOps); protected names never (docs/security.md)
    job_param_env: str = "lowercase"
    #: the daily retention pass runs at this local time (``HH:MM``, the conductor's time zone)
    retention_time: str = "04:00"
    #: job records kept (the newest; older ones go with their logs and files); 0 = no limit
    retention_max_jobs: int = 100_000
    #: activity records kept (the newest); 0 = no limit
    retention_max_activity: int = 100_000
    #: also trim job and activity records older than this many days; 0 = off
    retention_max_age_days: float = 0.0
    #: TEST ONLY: the server's clock starts at this Unix time (0 = real time)
    clock_start: float = 0.0
    #: TEST ONLY: enables the ``test_set_clock`` endpoint (moves the server's clock)
    test_api: int = 0

    @property
    def database_url(self) -> str:
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.data_dir / 'cronwright.db').resolve()}"

    @property
    def public_url(self) -> str:
        return self.base_url or f"http://{self.host}:{self.port}"


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _coerce(name: str, value: Any) -> Any:
    kind = _FIELDS[name].type
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "Path":
            return Path(value)
        if kind == "bool":
            return _boolean(value)
        if kind == "str":
            if isinstance(value, list):  # TOML arrays of list-like settings (networks, proxies)
                return ", ".join(str(item) for item in value)
            return str(value)
        if kind == "dict[str, Any]":
            parsed = json.loads(value) if isinstance(value, str) else value
            if not isinstance(parsed, dict):
                raise TypeError("expected a table / JSON object")
            return parsed
        if kind == "dict[str, str]":
            parsed = json.loads(value) if isinstance(value, str) else value
            if not isinstance(parsed, dict):
                raise TypeError("expected a table / JSON object")
            return {str(k): str(v) for k, v in parsed.items()}
    except (TypeError, ValueError, json.JSONDecodeError) as exc:
        raise ConfigError(f"Invalid value for setting {name!r}: {value!r}") from exc
    return value


_BOOLEANS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}


def _boolean(value: Any) -> bool:
    """A TOML boolean, or ``true``/``false``/``1``/``0``/``yes``/``no``/``on``/``off`` (environment)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _BOOLEANS:
        return _BOOLEANS[value.strip().lower()]
    raise ValueError(f"not a boolean: {value!r}")


def load_settings(
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
) -> Settings:
    """Merge defaults, config file, environment and explicit overrides (in that order)."""
    env = dict(os.environ if environ is None else environ)
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    from_env = {name: env[ENV_PREFIX + name.upper()] for name in _FIELDS if ENV_PREFIX + name.upper() in env}
    data_dir = Path(overrides.get("data_dir") or from_env.get("data_dir") or Settings.data_dir)
    path = config_file or env.get(ENV_PREFIX + "CONFIG")
    file_values: dict[str, Any] = {}
    if path or (data_dir / "config.toml").is_file():
        file_values = _read_config_file(Path(path) if path else data_dir / "config.toml")
    _check_names(env, file_values, Path(path) if path else data_dir / "config.toml")
    values: dict[str, Any] = {}
    for source in (file_values, from_env, overrides):
        for name, value in source.items():
            if name in _FIELDS:
                values[name] = _coerce(name, value)
    settings = Settings(**values)
    _check(settings)
    return settings


def _check_names(env: dict[str, str], file_values: dict[str, Any], file_path: Path) -> None:
    """Refuse config-file keys and ``CRONWRIGHT_*`` variables that name no setting: a misspelt
    setting would otherwise stay at its default without a word. The known names are the fields of
    ``Settings`` (plus ``OTHER_ENV_VARS``), so a new setting needs no second list."""
    problems = [
        f"Unknown setting {key!r} in config file {file_path}{_suggest(key.lower(), _FIELDS)}"
        for key in file_values
        if key not in _FIELDS
    ]
    env_names = {ENV_PREFIX + name.upper() for name in _FIELDS} | OTHER_ENV_VARS
    suffixes = {name.removeprefix(ENV_PREFIX).lower() for name in env_names}
    problems += [
        f"Unknown environment variable {name}{_suggest(name.removeprefix(ENV_PREFIX).lower(), suffixes, ENV_PREFIX)}"
        for name in sorted(env)
        if name.startswith(ENV_PREFIX) and name not in env_names
    ]
    if problems:
        raise ConfigError("\n".join(problems) + "\n(docs/configuration.md lists every setting)")


def _suggest(name: str, known: Any, prefix: str = "") -> str:
    """A did-you-mean suffix naming the known name closest to ``name`` (lower case), or nothing."""
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f": did you mean {(prefix + close[0].upper()) if prefix else close[0]}?" if close else ""


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"Config file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {path} is not valid TOML: {exc}") from exc


def _check(settings: Settings) -> None:
    if not 0 <= settings.port <= 65535:
        raise ConfigError(f"Invalid port: {settings.port}")
    if settings.conductor_id and not re.fullmatch(r"[A-Za-z0-9_.:@-]{1,128}", settings.conductor_id):
        raise ConfigError(
            f"Invalid conductor_id: {settings.conductor_id!r} (1-128 letters, digits and any of _ . : @ -)"
        )
    if settings.max_body_bytes < 1024:
        raise ConfigError("max_body_bytes must be at least 1024")
    if settings.max_script_bytes < 1:
        raise ConfigError("max_script_bytes must be at least 1")
    if settings.smtp_security not in ("none", "starttls", "ssl"):
        raise ConfigError(f"Invalid smtp_security: {settings.smtp_security!r} (use none, starttls or ssl)")
    for name in ("job_universal_limits", "job_universal_actions"):
        table = getattr(settings, name)
        if any(k not in ("default", "workflow") or not isinstance(v, list) for k, v in table.items()):
            raise ConfigError(f"{name} must be a table of 'default' and 'workflow' arrays")
    if settings.tz:
        from zoneinfo import available_timezones

        if settings.tz not in available_timezones():
            raise ConfigError(f"Unknown time zone for setting 'tz': {settings.tz!r} (use an IANA name)")
    url = settings.db_url
    if url and not url.startswith(("sqlite:", "postgresql:", "postgresql+", "postgres:")):
        shown = re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", url)  # never echo a password
        raise ConfigError(f"Unsupported database URL (use sqlite:/// or postgresql://): {shown}")
    from cronwright.notify.netpolicy import NetworkPolicy

    try:
        NetworkPolicy.parse(allow=settings.web_hook_allow_networks, deny=settings.web_hook_deny_networks)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    for name in ("login_max_failures_per_user", "login_max_failures_per_ip"):
        value = getattr(settings, name)
        if not math.isfinite(value) or value < 0:  # NaN would switch the limit off silently
            raise ConfigError(f"{name} must be 0 (no limit) or more")
    if settings.login_failure_window_s <= 0:
        raise ConfigError("login_failure_window_s must be more than 0")
    if not 1 <= settings.password_hash_workers <= 64:
        raise ConfigError("password_hash_workers must be between 1 and 64")
    from cronwright.forwarded import parse_networks

    try:
        parse_networks(settings.trusted_proxies)
    except ValueError as exc:
        raise ConfigError(f"Invalid trusted_proxies: {exc}") from None
    for name in ("http_header_timeout_s", "http_body_timeout_s", "http_send_timeout_s", "http_keepalive_timeout_s"):
        if not 0 < getattr(settings, name) <= 86400:
            raise ConfigError(f"{name} must be more than 0 and at most 86400 seconds")
    if settings.http_max_connections < 1:
        raise ConfigError("http_max_connections must be at least 1")
    if settings.job_param_env not in ("lowercase", "all"):
        raise ConfigError(f"Invalid job_param_env: {settings.job_param_env!r} (use lowercase or all)")
    _check_retention(settings)
    from cronwright.logs import check_log_settings

    try:
        check_log_settings(settings)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if settings.metrics not in ("off", "open", "token"):
        raise ConfigError(f"Invalid metrics: {settings.metrics!r} (use off, open or token)")
    if settings.metrics == "token" and len(settings.metrics_token) < 16:
        raise ConfigError("metrics = 'token' needs a metrics_token of at least 16 characters")


def _check_retention(settings: Settings) -> None:
    if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", settings.retention_time.strip()):
        raise ConfigError(f"Invalid retention_time: {settings.retention_time!r} (use HH:MM, e.g. 04:00)")
    for name in ("retention_max_jobs", "retention_max_activity", "retention_max_age_days"):
        value = getattr(settings, name)
        if not math.isfinite(value) or value < 0:  # NaN would switch the limit off silently
            raise ConfigError(f"{name} must be 0 (no limit) or more")
