"""Request and response envelopes of every endpoint (for the OpenAPI document)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from cronwright.model import documents as d


class Envelope(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: int = Field(0, description="0 on success.")


class Ok(Envelope):
    pass


class Error(BaseModel):
    code: str = Field(description="xyOps error code: api, session, access, rate, notfound, event, ...")
    description: str


class ListInfo(BaseModel):
    length: int = Field(description="Total number of items before paging.")


class Request(BaseModel):
    model_config = ConfigDict(extra="allow")


class IdRequest(Request):
    id: str = Field(description="`^[a-z0-9_]+$`")


class GetEventsRequest(Request):
    """Any top-level event field may be given as an equality filter."""


class EventCreate(d.EventFields):
    id: str | None = Field(None, description="Custom id (generated when omitted).")
    update_state: dict[str, Any] | None = Field(None, description="Initial event state, e.g. `{cursor: …}`.")


class EventUpdate(Request):
    id: str
    revision: int | None = Field(None, description="Compare-and-set: fail when the stored revision differs.")
    update_state: dict[str, Any] | None = None


class DeleteEventRequest(IdRequest):
    delete_jobs: bool | None = Field(None, description="Also delete the event's job history (in the background).")


class RunEventRequest(Request):
    id: str | None = None
    title: str | None = Field(None, description="Run the first event with this exact title.")
    params: dict[str, Any] | None = None
    input: dict[str, Any] | None = None
    test: bool | None = Field(None, description="Bypass the manual-trigger and enabled checks.")
    tags: list[str] | None = None


class HistoryRequest(IdRequest):
    offset: int | None = 0
    limit: int | None = Field(1, description="Default 1 (xyOps).")
    sort_dir: int | None = Field(-1, description="-1 newest first, 1 oldest first.")


class SearchRequest(Request):
    query: str | None = Field("*", description="`*` or `action:x|y keywords:k` terms")
    offset: int | None = 0
    limit: int | None = 1
    sort_dir: int | None = -1


class StateUpdate(Request):
    """Dot paths to values, e.g. `{"scheduler.enabled": false}`."""


class LoginRequest(Request):
    username: str
    password: str


class GetJobRequest(IdRequest):
    remove: list[str] | str | None = Field(None, description="Keys to leave out (array or CSV).")


class GetJobsRequest(Request):
    ids: list[str] | str | None = Field(None, description="Job ids (array or CSV).")
    verbose: bool | None = None
    event: str | None = Field(None, description="Instead of ids: this event's completed jobs, newest first.")
    offset: int | None = 0
    limit: int | None = 50


class TailRequest(IdRequest):
    bytes: int | None = Field(32768, description="1–1048576")


class TokenRequest(IdRequest):
    t: str = Field(description="The job's `token` from get_job.")


class StreamRequest(IdRequest):
    token: str | None = Field(
        None, description="The job's stream token (the `stream` value `magic` answers), instead of credentials."
    )


class TagsRequest(IdRequest):
    tags: list[str]


class JobList(Envelope):
    rows: list[d.Job]
    list: ListInfo


class JobSummary(Envelope):
    events: dict[str, Any]


class JobResult(Envelope):
    job: d.Job
    token: str | None = None


class JobsResult(Envelope):
    jobs: list[dict[str, Any]] | None = None
    rows: list[d.Job] | None = None


class TextResult(Envelope):
    text: str


class SearchJobsRequest(Request):
    query: str | None = Field(
        "*",
        description="`*`, simple terms (`event:x tags:_error|flag -code:0 date:>=2026-12-01`, bare words search "
        '`code`), PxQL `(code = "abort" | code = "3")` or `#id:JOB_ID`; see docs/jobs.md.',
    )
    offset: int | str | None = Field(0, description="Negative: counts from the end.")
    limit: int | str | None = Field(1, description="Default 1 (xyOps); `0` in a query string: all rows.")
    sort_by: str | None = Field("_id", description="`_id` (launch order), `completed` or `elapsed`.")
    sort_dir: int | str | None = Field(-1, description="-1 descending, 1 ascending.")
    verbose: bool | str | None = Field(None, description="Keep the heavy fields (input, data, files, ...).")
    select: list[str] | str | None = Field(None, description="Only these keys of each row (array or CSV).")


class SearchJobsResult(Envelope):
    rows: list[dict[str, Any]] = Field(description="Stored job records, in sort order, paged.")
    list: ListInfo


class MaintenanceResult(Envelope):
    jobs: int = Field(description="Job records deleted (with their logs and files).")
    activity: int = Field(description="Activity records deleted.")
    longest_batch_ms: float = Field(
        description="The longest batch transaction in milliseconds (the most a writer waited for the pass)."
    )


class CountResult(Envelope):
    count: int


class MagicResult(Envelope):
    description: str | None = None
    id: str | None = Field(None, description="The new job id.")
    stream: str | None = Field(None, description="Token for stream_job / view_job_log of that job.")
    job: d.Job | None = Field(None, description="With /wait: the completed job.")


class ForecastRequest(IdRequest):
    count: int | None = Field(10, description="1–1000")
    after: float | None = Field(None, description="Unix seconds (default: now).")


class ForecastRow(BaseModel):
    at: int
    iso: str | None = Field(None, description="`at` in ISO 8601, in the zone of the trigger (`timezone`).")
    timezone: str | None = None
    minute: int
    trigger: int
    type: str | None = None
    suppressed: bool
    until: int | None = None
    stype: str | None = None
    dst: str | None = None
    reason: str | None = None
    detail: str | None = None


class ForecastResult(Envelope):
    rows: list[ForecastRow]
    list: ListInfo
    active: bool
    timezone: str


class UpcomingRequest(Request):
    ids: list[str] | str | None = Field(None, description="Only these events (array or CSV of ids).")
    category: list[str] | str | None = Field(None, description="Only events of these categories (array or CSV).")
    # ``from`` is a Python keyword: the field is named by its alias
    from_: float | str | None = Field(
        None, alias="from", description="Start: Unix seconds or ISO 8601 (default: now); runs strictly after it."
    )
    to: float | str | None = Field(None, description="End (inclusive): Unix seconds or ISO 8601; default from + 24 h.")
    hours: float | None = Field(None, description="Window length instead of `to` (at most 744).")
    limit: int | None = Field(100, description="Rows, 1–1000.")
    suppressed: bool | None = Field(True, description="Include suppressed runs (blackout, range, nth, disabled…).")


class UpcomingRow(BaseModel):
    event: str
    title: str | None = None
    category: str | None = None
    epoch: int = Field(description="When it runs, Unix seconds.")
    iso: str = Field(description="`epoch` in ISO 8601, in the zone of the trigger (`timezone`).")
    timezone: str
    trigger: int = Field(description="Index in the event's `triggers`.")
    type: str | None = Field(None, description="The trigger's type (schedule, interval, single).")
    suppressed: bool
    reason: str | None = Field(
        None, description="Why suppressed: blackout, range, nth, disabled, category, plugin, scheduler."
    )
    detail: str | None = None
    until: int | None = Field(None, description="The job waits until this instant (delay, precision).")
    stype: str | None = None
    dst: str | None = None


class UpcomingResult(Envelope):
    rows: list[UpcomingRow]
    list: ListInfo
    truncated: bool = Field(description="More runs fall in the window than `limit`.")
    from_: float = Field(alias="from")
    to: float
    timezone: str = Field(description="The server's default time zone.")


class FireRow(BaseModel):
    model_config = ConfigDict(extra="allow")
    event_id: str
    at: int
    trigger: int
    status: str
    job_id: str | None = None
    reason: str | None = None
    recorded: float


class FireList(Envelope):
    rows: list[FireRow]
    list: ListInfo


class WebHookTestOutcome(BaseModel):
    code: int | str
    description: str
    details: str | None = None


class WebHookTestResult(Envelope):
    result: WebHookTestOutcome


class EventList(Envelope):
    rows: list[d.Event]
    list: ListInfo


class EventResult(Envelope):
    event: d.Event
    warnings: list[str] | None = Field(
        None,
        description="Cronwright addition, present only when non-empty: what was saved but is probably a "
        "mistake (a misspelt key, an unknown target or algo, a time zone in the wrong case).",
    )


class EventDetail(Envelope):
    event: d.Event
    jobs: list[d.Job] = Field(description="Jobs of the event in state `active`.")
    queued: int = Field(description="Number of queued jobs.")


class RunEventResult(Envelope):
    id: str | None = Field(None, description="The new job id.")
    ids: list[str] | None = Field(None, description="All new job ids (multiplex).")
    job: d.Job | None = Field(None, description="With /wait: the completed job.")


class ActivityList(Envelope):
    rows: list[d.Activity]
    list: ListInfo


class ServerList(Envelope):
    rows: list[d.Server]
    list: ListInfo


class ServerResult(Envelope):
    server: d.Server


class ServerDetail(Envelope):
    server: d.Server
    data: dict[str, Any] = Field(description="The last minute sample (`{}` without one).")
    online: bool = Field(description="Whether the server is connected now.")


class ServerUpdate(Request):
    id: str = Field(description="`^[a-z0-9_]+$`")
    title: str | None = None
    icon: str | None = None
    enabled: bool | str | None = Field(None, description='Also `"true"`/`"1"`/`"false"`/`"0"`.')
    groups: list[str] | None = Field(None, description="Group ids; send `autoGroup: false` with them.")
    autoGroup: bool | str | None = Field(None, description="`true`: groups computed from the host name.")
    maxJobs: int | None = Field(None, ge=0, description="Jobs at once on this server; 0 = no limit.")
    userData: dict[str, Any] | None = Field(None, description="Sent to every job on the server as `serverData`.")


class ServerDelete(IdRequest):
    history: bool | None = Field(None, description="Accepted; the record is deleted either way.")


class Conductor(BaseModel):
    id: str = Field(description="The conductor's id (`--conductor-id`; default host name, plus `:port` on PostgreSQL).")
    address: str = Field(description="Its base URL.")
    leader: bool = Field(description="Whether it holds the leader lease now.")
    epoch: int | None = Field(None, description="The leader lease's epoch, on the leader.")
    heartbeat: float = Field(description="Unix time of its last heartbeat.")
    online: bool = Field(description="Its heartbeat is recent.")
    started: float = Field(description="Unix time it started.")
    version: str = Field(description="Its Cronwright version.")
    self: bool = Field(description="It is the conductor answering this request.")
    files_shared: bool = Field(
        description="This conductor sees that one's data directory: they share job logs and files (docs/ha.md)."
    )


class ConductorList(Envelope):
    rows: list[Conductor]
    list: ListInfo


class StateResult(Envelope):
    state: dict[str, Any]


class LoginResult(Envelope):
    session_id: str
    username: str
    user: dict[str, Any]


@dataclass(frozen=True)
class EntityModels:
    listing: type[BaseModel]
    single: type[BaseModel]
    create: type[BaseModel]
    created: type[BaseModel]
    update: type[BaseModel]
    updated: type[BaseModel]


_DOCS: dict[str, type[BaseModel]] = {
    "category": d.Category,
    "group": d.Group,
    "plugin": d.Plugin,
    "tag": d.Tag,
    "role": d.Role,
    "api_key": d.ApiKey,
    "web_hook": d.WebHook,
}


@cache
def entity_models(one: str, many: str) -> EntityModels:
    doc: Any = _DOCS[one]
    stem = "".join(part.title() for part in one.split("_"))
    create_fields: dict[str, Any] = {"id": (str | None, None)}
    single_fields: dict[str, Any] = {one: (doc, ...)}
    created_fields: dict[str, Any] = dict(single_fields)
    if one == "api_key":
        created_fields["plain_key"] = (str, Field(description="The plain key, shown only in this response."))
    return EntityModels(
        listing=create_model(f"{stem}List", __base__=Envelope, rows=(list[doc], ...), list=(ListInfo, ...)),
        single=create_model(f"{stem}Result", __base__=Envelope, **single_fields),
        create=create_model(f"{stem}Create", __base__=doc, **create_fields),
        created=create_model(f"{stem}Created", __base__=Envelope, **created_fields),
        update=create_model(f"{stem}Update", __base__=Request, id=(str, ...)),
        updated=create_model(f"{stem}Updated", __base__=Envelope, **(single_fields if one == "plugin" else {})),
    )


# users (/api/user/…) and multi-updates


class User(d.Doc):
    """A user as the API shows it: never with `password` (its hash stays on the server)."""

    id: str | None = Field(None, description="Equal to `username`.")
    username: str = Field(description="`^[\\w.\\-]+$`, at most 64 characters; cannot be changed.")
    full_name: str | None = None
    email: str | None = None
    active: int | bool | None = Field(1, description="0 disables the account: no login, sessions stop working.")
    privileges: dict[str, Any] | None = None
    roles: list[str] | None = None
    categories: list[str] | None = None
    groups: list[str] | None = None
    created: int | None = None
    modified: int | None = None
    revision: int | None = None


class UserFields(Request):
    full_name: str | None = None
    email: str | None = Field(None, description="`^\\S+@\\S+$` (or empty).")
    active: int | bool | None = Field(None, description="1 (default on create) or 0.")
    privileges: dict[str, Any] | None = None
    roles: list[str] | None = None
    categories: list[str] | None = None
    groups: list[str] | None = None


class UserCreate(UserFields):
    username: str = Field(description="`^[\\w.\\-]+$`, at most 64 characters; unique regardless of case.")
    password: str = Field(description="At least 8 characters; stored only as an Argon2id hash.")


class UserAdminUpdate(UserFields):
    username: str = Field(description="The user to change (cannot itself be changed).")
    password: str | None = Field(None, description="A new password (at least 8 characters); empty = unchanged.")


class UserSelfUpdate(Request):
    full_name: str | None = None
    email: str | None = None
    password: str | None = Field(None, description="A new password (at least 8 characters).")
    old_password: str | None = Field(None, description="The current password; required with `password`.")


class UsernameRequest(Request):
    username: str


class UserListRequest(Request):
    offset: int | None = 0
    limit: int | None = Field(None, description="Default: all users.")


class UserResult(Envelope):
    user: User


class UserList(Envelope):
    rows: list[User]
    list: ListInfo


class CategoryOrderItem(BaseModel):
    id: str
    sort_order: float | None = None
    enabled: bool | int | None = None


class GroupOrderItem(BaseModel):
    id: str
    sort_order: float | None = None


class CategoryMultiUpdate(Request):
    items: list[CategoryOrderItem] = Field(description="Only `sort_order` and `enabled` may be set.")


class GroupMultiUpdate(Request):
    items: list[GroupOrderItem] = Field(description="Only `sort_order` may be set.")


class FileRecord(BaseModel):
    """An uploaded input file as listed in `input.files`."""

    model_config = ConfigDict(extra="allow")
    id: str
    date: int = Field(description="Unix seconds.")
    filename: str = Field(description="The client's base name with unsafe characters replaced by `_`.")
    path: str = Field(description="Storage key: `files/<owner>/<random>/<name>`, downloadable at `/<path>`.")
    size: int
    username: str | None = Field(None, description="The owner (the user, or the user who created the API key).")


class UploadFilesResult(Envelope):
    urls: list[str] = Field(description="`<base URL>/files/<owner>/<name>` of each file, in upload order.")


class UploadInputFilesResult(Envelope):
    files: list[FileRecord]


class JobFileRequest(IdRequest):
    path: str = Field(description="The `path` of an entry of the job's `files` (or `input.files`).")
