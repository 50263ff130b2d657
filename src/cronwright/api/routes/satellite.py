"""What agents call over HTTP (servers-agents.md §4.2, §4.3, §6.3, §6.5; docs/fleet.md):
``get_satellite_token`` (an admin makes an install token), ``finish_job`` and ``upload_job_file``
(an agent's final report and output files). The enrolment call ``GET /api/app/satellite/config``
answers the agent's credential as a raw body (``satellite``).

Agent calls authenticate with the server's token (``auth`` + ``server``) and act only on the jobs
assigned to that server (CRONWRIGHT DECISION, §6.3); an ``admin`` API key may stand in for it.
"""

from __future__ import annotations

from typing import Any

import anyio
from starlette.responses import JSONResponse

from cronwright.agent import protocol as p
from cronwright.api.registry import Ctx, EndpointSet
from cronwright.engine.fleet.hub import ENROL_PREFIX, TAKE_OVER_WAIT_S
from cronwright.engine.fleet.tokens import DEFAULT_EXPIRES_S, ID_CHARS, MAX_EXPIRES_S
from cronwright.errors import BadRequest, CwError, api_error
from cronwright.ids import generate_id
from cronwright.model import api as m
from cronwright.model import fleet as mf

router = EndpointSet(tag="Servers")

#: the install-token metadata that may land on the servers it enrols
TOKEN_METADATA = ("title", "icon", "enabled", "groups", "maxJobs", "userData")
_AUTH_FAILURE = "Authentication failure"


@router.endpoint(
    "get_satellite_token",
    style="write",
    summary="Create an install token that enrols servers",
    response=mf.SatelliteTokenResult,
)
def get_satellite_token(ctx: Ctx) -> dict[str, Any]:
    """Requires `add_servers`. `expires` (seconds, default 86400, at most a year); `title`, `icon`,
    `enabled`, `groups`, `maxJobs` and `userData` become the metadata of every server the token
    enrols (other keys are ignored). The token (64 hex characters) is shown once; it is reusable
    until it expires: `cronwright agent --conductor URL --token TOKEN` on each server."""
    who = ctx.authenticate()
    who.require("add_servers")
    params = ctx.params
    expires = params.get("expires", DEFAULT_EXPIRES_S)
    if isinstance(expires, str) and expires.strip().isdigit():
        expires = int(expires)
    if not isinstance(expires, (int, float)) or isinstance(expires, bool) or not 60 <= expires <= MAX_EXPIRES_S:
        raise api_error("Malformed parameter: expires (seconds, 60 to 31622400)")
    metadata = {k: params[k] for k in TOKEN_METADATA if k in params}
    if "groups" in metadata and (
        not isinstance(metadata["groups"], list) or not all(isinstance(g, str) for g in metadata["groups"])
    ):
        raise api_error("Malformed parameter: groups (must be an array of group ids)")
    if not metadata.get("groups"):
        metadata.pop("groups", None)
    if not who.is_admin and who.groups:  # a group-limited caller enrols servers into its groups only
        outside = [g for g in metadata.get("groups") or [] if not who.can_group(g)]
        if outside or not metadata.get("groups"):
            raise CwError(
                "access",
                "You do not have the required account privileges to assign the requested server groups."
                + (f" ({', '.join(outside)})" if outside else " (give groups within your scope)"),
                403,
            )
    if "enabled" in metadata and not isinstance(metadata["enabled"], bool):
        raise api_error("Malformed parameter: enabled (must be true or false)")
    if "userData" in metadata and not isinstance(metadata["userData"], dict):
        raise api_error("Malformed parameter: userData (must be an object)")
    for key in ("title", "icon"):
        if key in metadata and (not isinstance(metadata[key], str) or len(metadata[key]) > 256):
            raise api_error(f"Malformed parameter: {key}")
    if "maxJobs" in metadata and (
        not isinstance(metadata["maxJobs"], int) or isinstance(metadata["maxJobs"], bool) or metadata["maxJobs"] < 0
    ):
        raise api_error("Malformed parameter: maxJobs (must be a non-negative integer)")
    token, _ = ctx.conductor.install_tokens.create(metadata, float(expires), who.username)
    return {"token": token, "base_url": ctx.conductor.settings.public_url, "image": "", "version": ""}


@router.endpoint(
    "get_satellite_tokens",
    style="read",
    summary="List live install tokens (Cronwright extension)",
    response=mf.SatelliteTokenList,
)
def get_satellite_tokens(ctx: Ctx) -> dict[str, Any]:
    """Requires `add_servers`: the live install tokens (administrators: all; others: their own),
    each with its `id` (never the token itself), creator, creation and expiry times and metadata."""
    who = ctx.authenticate()
    who.require("add_servers")
    rows = ctx.conductor.install_tokens.listing(None if who.is_admin else who.username)
    return {"rows": rows, "list": {"length": len(rows)}}


@router.endpoint(
    "delete_satellite_token",
    style="write",
    summary="Revoke an install token (Cronwright extension)",
    response=m.Ok,
)
def delete_satellite_token(ctx: Ctx) -> dict[str, Any]:
    """Requires `add_servers` (administrators: any token; others: their own). `id` as listed by
    `get_satellite_tokens`; the token enrols no more servers (those it enrolled stay: revoke them
    with `delete_server`)."""
    who = ctx.authenticate()
    who.require("add_servers")
    token_id = ctx.params.get("id")
    if not isinstance(token_id, str) or len(token_id) != ID_CHARS or not all(c in "0123456789abcdef" for c in token_id):
        raise api_error("Missing or malformed parameter: id")
    if not ctx.conductor.install_tokens.revoke(token_id, None if who.is_admin else who.username):
        raise CwError("notfound", f"Install token not found: {token_id}", 404)
    return {}


def agent_server(ctx: Ctx, job_id: str, auth: str, server: Any) -> str | None:
    """The server an agent call acts for: ``server`` when ``auth`` is its token (and it is not
    revoked); None when ``auth`` is an ``admin`` API key; else ``auth`` "Authentication failure"."""
    conductor = ctx.conductor
    if isinstance(server, str) and p.valid_id(server):
        if p.same_secret(auth, p.server_token(server, conductor.secret_key)) and not conductor.servers.is_revoked(
            server
        ):
            return server
        raise CwError("auth", _AUTH_FAILURE, 403)
    try:
        who = conductor.auth.authenticate(None, auth, ip=ctx.origin.ip)
    except CwError:
        raise CwError("auth", _AUTH_FAILURE, 403) from None
    if not who.is_admin:
        raise CwError("auth", _AUTH_FAILURE, 403)
    return None


def _agent_params(ctx: Ctx) -> tuple[str, str, Any]:
    params = ctx.params
    job_id, auth = params.get("id"), params.get("auth")
    if not p.valid_id(job_id):
        raise api_error("Missing or malformed parameter: id")
    if not isinstance(auth, str) or not auth or len(auth) > 256 or not auth.replace("_", "").isalnum():
        raise api_error("Missing or malformed parameter: auth")
    return str(job_id), auth, params.get("server")


@router.endpoint("finish_job", style="run", summary="An agent's final job report", response=m.Ok, auth=False)
async def finish_job(ctx: Ctx) -> dict[str, Any]:
    """Agents only: `{id, server, auth, job, log_size}` where `auth` is the server's token (or an
    `admin` API key, without `server`). The report ends the job's run when the job is assigned to
    that server; a report about another server's job is refused (`auth`). A report about a job
    another conductor still owns (the agent moved here, e.g. after its conductor died) waits up to
    20 s for the job to come here (handed over, or its lease ran out), then ends it. Reports for
    jobs no conductor runs answer `{code: 0}` and change nothing."""
    job_id, auth, server = _agent_params(ctx)
    report = ctx.params.get("job")
    if not isinstance(report, dict):
        raise api_error("Missing or malformed parameter: job")
    log_size = ctx.params.get("log_size")
    if not isinstance(log_size, int) or isinstance(log_size, bool) or log_size < 0:
        log_size = None
    acting = agent_server(ctx, job_id, auth, server)
    conductor = ctx.conductor
    job = conductor.jobs.active.get(job_id)
    if job is None and acting is not None and await conductor.hub.take_over(job_id, acting, TAKE_OVER_WAIT_S):
        job = conductor.jobs.active.get(job_id)
    if job is None:
        return {}
    assigned = str(job.get("server"))
    if acting is not None and assigned != acting:
        raise CwError("auth", _AUTH_FAILURE, 403)
    await conductor.hub.finish(assigned, job_id, report, log_size)
    return {}


@router.endpoint(
    "upload_job_file",
    style="run",
    summary="An agent's output file of a job",
    response=mf.UploadJobFileResult,
    multipart=True,
    auth=False,
)
async def upload_job_file(ctx: Ctx) -> dict[str, Any]:
    """Agents only: multipart with the file (field `file1`), `id`, `auth`, `server` as for
    `finish_job`. Stored at `files/jobs/<id>/<random>/<name>`; answers `{key, size}`. The job must
    be assigned to that server (running here, or its stored record)."""
    job_id, auth, server = _agent_params(ctx)
    if not ctx.call.files:
        raise BadRequest("job", "File upload data not found")
    acting = agent_server(ctx, job_id, auth, server)
    conductor = ctx.conductor
    job = conductor.jobs.active.get(job_id) or await anyio.to_thread.run_sync(conductor.store.get_job, job_id)
    if job is None or job.get("state") == "complete":  # outputs come before the final report, never after
        raise CwError("job", f"Job is not running: {job_id}", 404)
    if acting is not None and str(job.get("server")) != acting:
        raise CwError("auth", _AUTH_FAILURE, 403)
    upload = ctx.call.files[0]
    batch = conductor.jobs.files.job_output_batch(job_id)

    def store() -> tuple[str, int]:
        try:
            return batch.store(upload.stream, upload.filename)
        except BaseException:
            batch.discard()
            raise

    key, size = await anyio.to_thread.run_sync(store)
    return {"key": key, "size": size}


@router.endpoint(
    "satellite",
    style="read",
    summary="Enrol a server (the agent's first call)",
    response=m.Ok,
    suffix=True,
    auth=False,
)
async def satellite(ctx: Ctx) -> Any:
    """`GET /api/app/satellite/config?t=TOKEN`: `t` is a live install token (or an API key with
    `add_servers`). Answers the agent config as a raw JSON body (no envelope): a new `server_id`,
    its `auth_token`, `hosts` (the conductors' base URLs) and `initial` (the token's metadata).
    Every call mints another server. Other methods (`install`, `core`, `upgrade`: xyOps' installer
    and packages) are not offered: install with `pip install cronwright`."""
    method = ctx.call.suffix
    if method != "config":
        raise CwError("satellite", "Invalid satellite API method.", 404)
    token = ctx.params.get("t")
    if (
        not isinstance(token, str)
        or not token
        or len(token) > 256
        or not token.replace("-", "").replace("_", "").isalnum()
    ):
        raise api_error("Missing or malformed parameter: t")
    conductor = ctx.conductor
    metadata = await anyio.to_thread.run_sync(conductor.install_tokens.metadata, token)
    if metadata is None:
        try:
            who = conductor.auth.authenticate(None, token, ip=ctx.origin.ip)
        except CwError:
            raise CwError("satellite", "Access denied.", 403) from None
        who.require("add_servers")
        metadata = {}
    server_id = generate_id("s")
    if metadata:  # kept here: what a new server gets comes from its token, never from its own hello

        def keep() -> None:
            with conductor.store.write() as w:
                w.set_kv(ENROL_PREFIX + server_id, metadata)

        await anyio.to_thread.run_sync(keep)
    return JSONResponse(
        {
            "server_id": server_id,
            "auth_token": p.server_token(server_id, conductor.secret_key),
            "hosts": conductor.conductor_urls(),
            "initial": metadata,
        },
        headers={"Cache-Control": "no-store"},
    )
