"""Message text (limits-actions.md §4.2): template choice, rendering and the client name prefix."""

from __future__ import annotations

import pytest

from cronwright.notify import TEXT_TEMPLATES, message_text, text_template_key
from tests.notify.samples import hook_data

DETAILS = "http://cw.test/#Job?id=jtest1"


def test_templates_are_the_documented_texts() -> None:
    """The five default templates match the spec table word for word."""
    assert TEXT_TEMPLATES == {
        "job_start": "Job started on {{nice_server}}: {{event.title}}: {{links.job_details}}",
        "job_success": "Job completed successfully on {{nice_server}}: {{event.title}}: {{links.job_details}}",
        "job_error": "Job failed on {{nice_server}}: {{event.title}}: Error ({{job.code}}): {{job.description}}: {{links.job_details}}",
        "job_progress": "Job is in progress on {{nice_server}} ({{event.title}}): {{links.job_details}}",
        "job_limited": "{{action.msg}}: {{links.job_details}}",
    }


@pytest.mark.parametrize(
    ("condition", "code", "complete", "expected"),
    [
        ("start", 0, False, f"Cronwright Job started on box.local: Nightly Backup: {DETAILS}"),
        ("success", 0, True, f"Cronwright Job completed successfully on box.local: Nightly Backup: {DETAILS}"),
        (
            "error",
            "warning",
            True,
            f"Cronwright Job failed on box.local: Nightly Backup: Error (warning): Everything broke: {DETAILS}",
        ),
        ("complete", 0, True, f"Cronwright Job completed successfully on box.local: Nightly Backup: {DETAILS}"),
        (
            "complete",
            1,
            True,
            f"Cronwright Job failed on box.local: Nightly Backup: Error (1): Everything broke: {DETAILS}",
        ),
        (
            "warning",
            "warning",
            True,
            f"Cronwright Job failed on box.local: Nightly Backup: Error (warning): Everything broke: {DETAILS}",
        ),
        (
            "critical",
            "critical",
            True,
            f"Cronwright Job failed on box.local: Nightly Backup: Error (critical): Everything broke: {DETAILS}",
        ),
        (
            "abort",
            "abort",
            True,
            f"Cronwright Job failed on box.local: Nightly Backup: Error (abort): Everything broke: {DETAILS}",
        ),
        (
            "user",
            3,
            True,
            f"Cronwright Job failed on box.local: Nightly Backup: Error (3): Everything broke: {DETAILS}",
        ),
        ("tag:urgent", 0, True, f"Cronwright Job completed successfully on box.local: Nightly Backup: {DETAILS}"),
        ("tag:urgent", 0, False, f"Cronwright Job is in progress on box.local (Nightly Backup): {DETAILS}"),
    ],
)
def test_text_per_condition(condition: str, code: object, complete: bool, expected: str) -> None:
    """Each condition picks job_<condition> when it exists, else progress / error / success."""
    assert message_text(hook_data(code=code, complete=complete, condition=condition), None) == expected


def test_explicit_template_wins_and_limit_message() -> None:
    """A known ``template_key`` overrides the condition; job_limited shows the limit's message."""
    data = hook_data(condition="success")
    data["action"]["msg"] = "Job exceeded its time limit of 1 second"
    assert message_text(data, "job_limited") == f"Cronwright Job exceeded its time limit of 1 second: {DETAILS}"
    assert text_template_key(data, "job_progress") == "job_progress"
    assert text_template_key(data, "no_such_template") == "job_success"


def test_client_name_and_missing_values() -> None:
    """The prefix is ``client.name`` (default Cronwright); undefined or empty values render "n/a"."""
    data = hook_data(condition="start", client={"name": "Acme Ops"}, nice_server="")
    del data["event"]["title"]
    assert message_text(data, None) == f"Acme Ops Job started on n/a: n/a: {DETAILS}"
    del data["client"]
    assert message_text(data, None).startswith("Cronwright Job started")


def test_completed_timestamp_counts_as_complete() -> None:
    """A job with only a ``completed`` time (no ``complete`` flag) is treated as finished."""
    data = hook_data(complete=False, condition="complete")
    data["job"]["completed"] = 1766111340.5
    assert text_template_key(data) == "job_success"
