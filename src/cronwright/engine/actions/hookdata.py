"""The data every action template sees (limits-actions.md §4.2): job, event, action, plugin,
category, server, links, display values, and the message ``text``."""

from __future__ import annotations

from typing import Any

from cronwright.engine.catalog import Catalog
from cronwright.notify import message_text
from cronwright.textfmt import human_bytes, human_duration


def display_values(job: dict[str, Any]) -> dict[str, str]:
    elapsed = job.get("elapsed")
    mem = (job.get("mem") or {}).get("max")
    cpu = (job.get("cpu") or {}).get("max")
    perf = job.get("perf")
    return {
        "elapsed": human_duration(float(elapsed)) if isinstance(elapsed, (int, float)) else "",
        "log_size": human_bytes(job.get("log_file_size") or 0),
        "mem": human_bytes(mem) if isinstance(mem, (int, float)) else "",
        "cpu": f"{cpu:.0f}%" if isinstance(cpu, (int, float)) else "",
        "perf": ", ".join(f"{k}: {v}" for k, v in perf.items()) if isinstance(perf, dict) else str(perf or ""),
    }


def hook_data(
    job: dict[str, Any], action: dict[str, Any], *, catalog: Catalog, base_url: str, token: str
) -> dict[str, Any]:
    """Template data for one action (or limit sub-action) of one job."""
    event = catalog["events"].get(job.get("event")) or {"id": job.get("event"), "title": job.get("event_title", "")}
    server = catalog["servers"].get(job.get("server")) or {}
    hostname = server.get("hostname") or job.get("server") or ""
    nice_server = f"{server['title']} ({hostname})" if server.get("title") else hostname
    job_id = job["id"]
    data: dict[str, Any] = {
        "job": job,
        "action": action,
        "event": event,
        "plugin": catalog["plugins"].get(job.get("plugin")) or {},
        "category": catalog["categories"].get(job.get("category")) or {},
        "server": server,
        "nice_server": nice_server,
        "links": {
            "job_details": f"{base_url}/#Job?id={job_id}",
            "job_log": f"{base_url}/api/app/download_job_log/v1?id={job_id}&t={token}",
            "job_files": f"{base_url}/#Job?id={job_id}&sub=files",
        },
        "display": display_values(job),
        "client": {"name": "Cronwright"},
    }
    text = message_text(data, action.get("template"))
    if isinstance(action.get("text"), str) and action["text"]:
        text = f"{text} {action['text']}"
    data["text"] = text
    return data
