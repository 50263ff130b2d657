"""The one-line message text of a job notification (limits-actions.md §4.2).

``message_text`` is what web hooks receive as ``{{text}}`` (the caller appends the action's own
``text``): the client name, a space, and one of :data:`TEXT_TEMPLATES` rendered over the hook data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .macros import client_name, render_lenient

TEXT_TEMPLATES: dict[str, str] = {
    "job_start": "Job started on {{nice_server}}: {{event.title}}: {{links.job_details}}",
    "job_success": "Job completed successfully on {{nice_server}}: {{event.title}}: {{links.job_details}}",
    "job_error": (
        "Job failed on {{nice_server}}: {{event.title}}: Error ({{job.code}}): {{job.description}}: "
        "{{links.job_details}}"
    ),
    "job_progress": "Job is in progress on {{nice_server}} ({{event.title}}): {{links.job_details}}",
    "job_limited": "{{action.msg}}: {{links.job_details}}",
}
"""Default text per situation, exactly as xyOps' ``hook_text_templates`` (without the client name)."""


def is_complete(job: Mapping[str, Any]) -> bool:
    """True once the job has finished (``complete`` flag, ``completed`` time or state ``complete``)."""
    return bool(job.get("complete") or job.get("completed") or job.get("state") == "complete")


def text_template_key(data: Mapping[str, Any], template_key: str | None = None) -> str:
    """Which of :data:`TEXT_TEMPLATES` applies: ``template_key`` when known, else ``job_<condition>``
    of the action when it exists, else ``job_progress`` / ``job_error`` / ``job_success``."""
    if template_key and template_key in TEXT_TEMPLATES:
        return template_key
    action = data.get("action")
    condition = action.get("condition") if isinstance(action, Mapping) else None
    if isinstance(condition, str) and f"job_{condition}" in TEXT_TEMPLATES:
        return f"job_{condition}"
    job = data.get("job")
    job = job if isinstance(job, Mapping) else {}
    if not is_complete(job):
        return "job_progress"
    return "job_error" if job.get("code") else "job_success"


def message_text(data: Mapping[str, Any], template_key: str | None = None) -> str:
    """``<client name> <rendered template>``; undefined or empty values render as "n/a"."""
    template = TEXT_TEMPLATES[text_template_key(data, template_key)]
    return f"{client_name(data)} {render_lenient(template, data, undefined='n/a', blank='n/a')}"
