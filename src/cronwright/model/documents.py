"""The JSON documents of the API as typed models (for the OpenAPI document and typed clients).

Every model keeps unknown fields (``extra="allow"``): xyOps data round-trips through Cronwright
unchanged. The engine validates payloads with the xyOps rules and messages
(``cronwright.engine.validation``); these models describe the shapes, they do not replace those
rules.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Doc(BaseModel):
    model_config = ConfigDict(extra="allow")


class Stamped(Doc):
    username: str | None = Field(None, description="Creator: user name, or the API key id.")
    created: int | None = Field(None, description="Unix seconds, set by the server.")
    modified: int | None = Field(None, description="Unix seconds, set by the server.")
    revision: int | None = Field(None, description="1 on create, +1 on every update.")


TriggerType = Literal[
    "manual",
    "schedule",
    "interval",
    "single",
    "catchup",
    "range",
    "blackout",
    "delay",
    "precision",
    "nth",
    "quiet",
    "startup",
    "magic",
    "plugin",
    "keyboard",
]


class Trigger(Doc):
    type: TriggerType
    enabled: bool | int | None = None
    timezone: str | None = Field(None, description="IANA zone for `schedule` (default: server zone).")
    years: list[int] | None = None
    months: list[int] | None = Field(None, description="1–12")
    days: list[int] | None = Field(None, description="1–31, or −1…−7 counted from the month's end")
    weekdays: list[int] | None = Field(None, description="0 (Sunday) – 6")
    hours: list[int] | None = None
    minutes: list[int] | None = None
    start: int | None = Field(None, description="interval/range start (Unix seconds)")
    end: int | None = None
    duration: int | None = Field(None, description="interval period or delay (seconds)")
    epoch: int | None = Field(None, description="single shot time (Unix seconds, floored to the minute)")
    seconds: list[int] | None = Field(None, description="precision second offsets 0–59")
    every: int | None = Field(None, description="nth: run every Nth eligible minute (≥ 2)")
    key: str | None = Field(None, description="magic: plain key (write-only; stored as `token`)")
    token: str | None = None
    params: dict[str, Any] | None = None
    tags: list[str] | None = None


LimitType = Literal["time", "job", "queue", "retry", "log", "mem", "cpu", "file", "day", "tag"]


class Limit(Doc):
    type: LimitType
    enabled: bool | int
    amount: float | None = None
    duration: float | None = None
    size: float | None = None
    accept: str | None = None
    condition: str | None = None
    abort: bool | None = None


class Action(Doc):
    type: str = Field(description="email, web_hook, run_event, disable, delete, tag, label, plugin, ...")
    enabled: bool | int
    condition: str = Field(description="start, complete, success, error, user, warning, critical, abort, tag:X")
    users: list[str] | None = None
    email: str | None = None
    web_hook: str | None = None
    event_id: str | None = None


class ParamDef(Doc):
    id: str
    type: str = Field(description="text, textarea, code, json, checkbox, select, hidden, ...")
    title: str | None = None
    value: Any = None
    required: bool | None = None
    locked: bool | None = None
    regex: str | None = None
    range: str | None = None


class EventFields(Doc):
    title: str = Field(description="Display name (no HTML metacharacters).")
    enabled: bool | int
    category: str
    targets: list[str] = Field(description="Server ids and/or group ids.")
    plugin: str
    algo: str = Field(
        description="random, round_robin, least_cpu, least_mem, fewest_jobs, prefer_first, "
        "prefer_last, prefer_first_natural, prefer_last_natural, multiplex, monitor:<id>"
    )
    params: dict[str, Any] | None = None
    triggers: list[Trigger] | None = None
    limits: list[Limit] | None = None
    actions: list[Action] | None = None
    fields: list[ParamDef] | None = None
    tags: list[str] | None = None
    notes: str | None = None
    icon: str | None = None


class Event(EventFields, Stamped):
    id: str = Field(description="`^[a-z0-9_]+$`; generated as `e` + 15 characters when omitted.")


class Category(Stamped):
    id: str
    title: str
    enabled: bool | int | None = True
    color: str | None = None
    sort_order: int | None = None
    limits: list[Limit] | None = None
    actions: list[Action] | None = None


class Group(Stamped):
    id: str
    title: str
    hostname_match: str = Field(description="Regular expression matched against server host names.")
    sort_order: int | None = None
    max_jobs_per_server: int | None = None


class Plugin(Stamped):
    id: str
    title: str
    type: Literal["event", "monitor", "action", "scheduler"]
    command: str
    enabled: bool | int | None = True
    params: list[ParamDef] | None = None
    kill: Literal["none", "parent", "all"] | None = None
    script: str | None = None


class Tag(Stamped):
    id: str
    title: str
    icon: str | None = None


class Role(Stamped):
    id: str
    title: str
    enabled: bool | int | None = True
    privileges: dict[str, Any] | None = None
    categories: list[str] | None = None
    groups: list[str] | None = None


class ApiKey(Stamped):
    id: str = Field(description="Always generated (`k…`).")
    title: str
    description: str | None = None
    active: int | bool | None = 1
    expires: float | None = Field(None, description="Unix seconds; the key stops working at that time.")
    privileges: dict[str, Any] | None = None
    roles: list[str] | None = None
    categories: list[str] | None = None
    groups: list[str] | None = None
    max_per_sec: float | None = Field(None, description="Rate limit (requests per second).")
    key: str | None = Field(None, description="SHA-256 of the plain key + id (the plain key is never stored).")
    mask: str | None = None


class WebHookHeader(BaseModel):
    name: str
    value: str


class WebHook(Stamped):
    id: str
    title: str
    method: str = Field("POST", description="HTTP method, e.g. POST, GET, PUT.")
    url: str = Field(description="http://…, https://… or a {{ template }}; macros over the hook data are expanded.")
    headers: list[WebHookHeader] | None = None
    body: str | None = Field(None, description="Template; sent unless the method is GET/HEAD or it is blank.")
    enabled: bool | None = True
    timeout: float | None = Field(30, description="Seconds.")
    retries: int | None = 0
    follow: bool | None = False
    ssl_cert_bypass: bool | None = False
    max_per_day: int | None = Field(0, description="0 = unlimited.")


class Server(Doc):
    id: str
    hostname: str
    ip: str | None = None
    enabled: bool | None = None
    groups: list[str] | None = None
    autoGroup: bool | None = None
    info: dict[str, Any] | None = None


class Activity(Doc):
    id: str
    action: str
    epoch: int
    description: str | None = None
    username: str | None = None
    keywords: list[str] | None = None


class Job(Doc):
    id: str
    event: str
    state: str
    started: float | None = None
    completed: float | None = None
    code: int | str | None = None
