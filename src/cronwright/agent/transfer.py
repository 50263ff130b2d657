"""The agent's HTTP calls to a conductor (servers-agents.md §5.5, §6.3, §6.5): input file downloads,
output file uploads and the final ``finish_job`` report. Credentials travel in the request only;
no message here ever carries them."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import httpx

from cronwright.ids import generate_id
from cronwright.runner import OutputFile

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT_S = 300.0
CALL_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Credential:
    server_id: str
    auth_token: str


class FinishAnswer(Enum):
    DONE = "done"  # HTTP 2xx with {code: 0} (or no envelope)
    REFUSED = "refused"  # HTTP 2xx with an error envelope: logged, not retried
    RETRY = "retry"  # anything else: try again in a second


def file_url(base_url: str, path: str) -> str:
    """``GET {base}/files/…`` for a stored file's ``path`` (with or without its ``files/`` prefix)."""
    path = path.lstrip("/")
    if not path.startswith("files/"):
        path = "files/" + path
    return f"{base_url.rstrip('/')}/{path}"


async def download_file(client: httpx.AsyncClient, base_url: str, path: str, target: Path) -> None:
    """Stream one input file to ``target``; raises ``OSError`` or ``httpx.HTTPError``."""
    async with client.stream("GET", file_url(base_url, path), timeout=DOWNLOAD_TIMEOUT_S) as response:
        if response.status_code != 200:
            raise OSError(f"HTTP {response.status_code}")
        with open(target, "wb") as out:
            async for chunk in response.aiter_bytes():
                out.write(chunk)


async def upload_files(
    client: httpx.AsyncClient, base_url: str, credential: Credential, job_id: str, outputs: list[OutputFile]
) -> tuple[list[dict[str, Any]], str]:
    """Upload each output file; ``(records, "")`` or ``([], error)`` at the first failure."""
    url = f"{base_url.rstrip('/')}/api/app/upload_job_file"
    form = {"id": job_id, "auth": credential.auth_token, "server": credential.server_id}
    records: list[dict[str, Any]] = []
    for output in outputs:
        try:
            with open(output.path, "rb") as source:
                response = await client.post(
                    url, data=form, files={"file1": (output.filename, source)}, timeout=CALL_TIMEOUT_S
                )
            answer = response.json() if response.status_code == 200 else None
        except (OSError, ValueError, httpx.HTTPError) as exc:
            return [], f"Failed to upload job file: {output.filename}: {type(exc).__name__}: {exc}"
        if not isinstance(answer, dict) or answer.get("code") != 0 or not isinstance(answer.get("key"), str):
            reason = answer.get("description") if isinstance(answer, dict) else f"HTTP {response.status_code}"
            return [], f"Failed to upload job file: {output.filename}: {reason}"
        records.append(
            {
                "id": generate_id("f"),
                "date": int(time.time()),
                "filename": output.filename,
                "path": answer["key"],
                "size": answer.get("size", 0),
                "server": credential.server_id,
                "job": job_id,
            }
        )
        if output.delete:
            output.path.unlink(missing_ok=True)
    return records, ""


async def post_finish(
    client: httpx.AsyncClient, base_url: str, credential: Credential, job: dict[str, Any], log_size: int
) -> FinishAnswer:
    body = {
        "id": job["id"],
        "server": credential.server_id,
        "auth": credential.auth_token,
        "log_size": log_size,
        "job": job,
    }
    url = f"{base_url.rstrip('/')}/api/app/finish_job"
    try:
        response = await client.post(url, json=body, timeout=CALL_TIMEOUT_S)
    except httpx.HTTPError as exc:
        log.warning("finish_job for job %s failed (%s); retrying", job["id"], type(exc).__name__)
        return FinishAnswer.RETRY
    if not 200 <= response.status_code < 300:
        log.warning("finish_job for job %s answered HTTP %d; retrying", job["id"], response.status_code)
        return FinishAnswer.RETRY
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if isinstance(answer, dict) and answer.get("code", 0) not in (0, "0"):
        log.error(
            "finish_job for job %s refused: %s: %s (report dropped)",
            job["id"],
            answer.get("code"),
            answer.get("description", ""),
        )
        return FinishAnswer.REFUSED
    return FinishAnswer.DONE
