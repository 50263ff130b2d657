"""The stock e-mail templates for job notifications (limits-actions.md §4.1).

Each is markdown with ``{{ }}`` macros over the hook data and a leading ``Subject`` directive naming
the event title. Bodies name the event, the job id and the job details link; failures add the code
and description; completed jobs add the elapsed time. The wording is Cronwright's own (xyOps'
``conf/emails/job_*.txt`` were not available to compare), in the same layout as xyOps' documented
``job_success`` template.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .text import is_complete

_FACTS = """\
- **Job ID:** `{{job.id}}`
- **Event:** {{event.title}}
- **Category:** {{category.title}}
- **Plugin:** {{plugin.title}}
- **Server:** {{nice_server}}
"""

_RESOURCES = """\
- **Elapsed Time:** {{display.elapsed}}
- **Performance Metrics:** {{display.perf}}
- **Peak Memory Usage:** {{display.mem}}
- **Peak CPU Usage:** {{display.cpu}}
"""

_LINKS = """
### Links

- Job Details: {{links.job_details}}
- Download Log: {{links.job_log}} ({{display.log_size}})
"""

STOCK_EMAILS: dict[str, str] = {
    "job_start": (
        "<!-- Subject: {{client.name}} Job Started: {{event.title}} -->\n\n"
        "The following {{client.name}} job has started:\n\n" + _FACTS + _LINKS
    ),
    "job_success": (
        "<!-- Subject: {{client.name}} Job Completed Successfully: {{event.title}} -->\n\n"
        "The following {{client.name}} job has completed successfully:\n\n" + _FACTS + _RESOURCES + _LINKS
    ),
    "job_fail": (
        "<!-- Subject: {{client.name}} Job Failed: {{event.title}} -->\n\n"
        "The following {{client.name}} job has failed:\n\n"
        + _FACTS
        + "- **Error Code:** {{job.code}}\n- **Description:** {{job.description}}\n"
        + _RESOURCES
        + _LINKS
    ),
    "job_progress": (
        "<!-- Subject: {{client.name}} Job In Progress: {{event.title}} -->\n\n"
        "The following {{client.name}} job is in progress:\n\n" + _FACTS + _LINKS
    ),
    "job_limited": (
        "<!-- Subject: {{client.name}} Job Limit Reached: {{event.title}} -->\n\n"
        "A limit was reached by the following {{client.name}} job:\n\n"
        "**{{action.msg}}**\n\n" + _FACTS + _LINKS
    ),
}
"""Stock templates by key: ``job_start``, ``job_success``, ``job_fail``, ``job_progress``, ``job_limited``."""


def stock_email_key(data: Mapping[str, Any], condition: str | None = None) -> str:
    """The stock template for a firing: ``start`` → job_start, job not finished → job_progress,
    code 0 → job_success, else job_fail (limit notifications pick ``job_limited`` themselves)."""
    if condition == "start":
        return "job_start"
    job = data.get("job")
    job = job if isinstance(job, Mapping) else {}
    if not is_complete(job):
        return "job_progress"
    return "job_fail" if job.get("code") else "job_success"
