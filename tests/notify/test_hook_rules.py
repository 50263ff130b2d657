"""Web hook record validation (supporting-apis.md §6, conformance case 201)."""

from __future__ import annotations

from typing import Any

import pytest

from cronwright.errors import BadRequest
from cronwright.notify import WEB_HOOK_DEFAULTS, validate_web_hook

VALID: dict[str, Any] = {
    "id": "wh1",
    "title": "Ops Hook",
    "method": "POST",
    "url": "https://hooks.example.test/x?job={{job.id}}",
    "headers": [{"name": "Content-Type", "value": "application/json"}, {"name": "X-Event", "value": "{{event.id}}"}],
    "body": '{"text": "{{text}}"}',
    "timeout": 2.5,
    "retries": 3,
    "max_per_day": 0,
    "follow": True,
    "ssl_cert_bypass": False,
    "enabled": True,
}


def error_of(doc: dict[str, Any], *, partial: bool = False) -> tuple[str, str]:
    with pytest.raises(BadRequest) as caught:
        validate_web_hook(doc, partial=partial)
    return caught.value.code, caught.value.description


def test_valid_hooks_pass() -> None:
    """A complete hook, the minimal one and a template URL are all accepted."""
    validate_web_hook(VALID)
    validate_web_hook({"title": "t", "method": "GET", "url": "http://x.test"})
    validate_web_hook({"title": "t", "method": "post", "url": "{{job.params.hook_url}}"})


def test_case_201() -> None:
    """``url: "ftp://x"`` is an ``api`` error; a body ``{{ 1 + }}`` is a ``web_hook`` error."""
    assert error_of({**VALID, "url": "ftp://x"}) == (
        "api",
        "Malformed parameter: url (must start with http://, https:// or {{)",
    )
    code, description = error_of({**VALID, "body": "{{ 1 + }}"})
    assert code == "web_hook"
    assert description.startswith("Failed to compile macro in body: {{ 1 + }}: ")


@pytest.mark.parametrize(
    ("changes", "code", "fragment"),
    [
        ({"method": "PO ST"}, "api", "Malformed parameter: method"),
        ({"method": 5}, "api", "Malformed parameter: method"),
        ({"method": "PÖST"}, "api", "Malformed parameter: method"),
        ({"url": 7}, "api", "Malformed parameter: url"),
        ({"url": "http://x\n.test"}, "api", "Malformed parameter: url"),
        ({"url": "https://x.test/{{ ### }}"}, "web_hook", "Failed to compile macro in url"),
        ({"headers": {"Content-Type": "x"}}, "web_hook", "Invalid header format for web hook: Ops Hook"),
        ({"headers": [["Content-Type", "x"]]}, "web_hook", "Invalid header format for web hook: Ops Hook"),
        ({"headers": [{"name": "X", "value": 5}]}, "web_hook", "Invalid header format"),
        ({"headers": [{"name": "Bad Name", "value": "x"}]}, "web_hook", "Invalid header format"),
        ({"headers": [{"name": "X", "value": "a\r\nInjected: 1"}]}, "web_hook", "Invalid header format"),
        ({"headers": [{"name": "X", "value": "{{ 1 + }}"}]}, "web_hook", "Failed to compile macro in header X"),
        ({"body": {"a": 1}}, "api", "Malformed parameter: body"),
        ({"body": "{{ ### }}"}, "web_hook", "Failed to compile macro in body"),
        ({"timeout": 0}, "api", "Malformed parameter: timeout"),
        ({"timeout": "30"}, "api", "Malformed parameter: timeout"),
        ({"timeout": True}, "api", "Malformed parameter: timeout"),
        ({"retries": 11}, "api", "Malformed parameter: retries"),
        ({"retries": 1.5}, "api", "Malformed parameter: retries"),
        ({"retries": -1}, "api", "Malformed parameter: retries"),
        ({"max_per_day": -1}, "api", "Malformed parameter: max_per_day"),
        ({"max_per_day": "5"}, "api", "Malformed parameter: max_per_day"),
        ({"follow": "yes"}, "api", "Malformed parameter: follow"),
        ({"ssl_cert_bypass": 1}, "api", "Malformed parameter: ssl_cert_bypass"),
        ({"enabled": None}, "api", "Malformed parameter: enabled"),
    ],
)
def test_field_rules(changes: dict[str, Any], code: str, fragment: str) -> None:
    """Each malformed field is rejected with the documented error code."""
    got_code, description = error_of({**VALID, **changes})
    assert got_code == code and fragment in description


def test_missing_required_fields_on_create() -> None:
    """Create needs ``method`` and ``url``; a partial update checks only the fields present."""
    assert error_of({"title": "t", "url": "http://x.test"}) == ("api", "Missing parameter: method")
    assert error_of({"title": "t", "method": "GET"}) == ("api", "Missing parameter: url")
    validate_web_hook({"timeout": 5}, partial=True)
    validate_web_hook({}, partial=True)
    assert error_of({"body": "{{ ### }}"}, partial=True)[0] == "web_hook"
    assert error_of({"url": "ftp://x"}, partial=True)[0] == "api"


def test_defaults() -> None:
    """The create defaults are the documented ones."""
    assert WEB_HOOK_DEFAULTS == {
        "enabled": True, "method": "POST", "headers": [], "body": "", "timeout": 30, "retries": 0,
        "follow": False, "ssl_cert_bypass": False, "max_per_day": 0,
    }  # fmt: skip
    validate_web_hook({"title": "t", "url": "http://x.test", **WEB_HOOK_DEFAULTS})
