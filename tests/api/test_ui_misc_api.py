"""The Cronwright extension endpoints of the web UI's misc pages (docs/ui.md): `get_privileges`."""

from __future__ import annotations

from cronwright.engine.privileges import PRIVILEGE_TITLES
from tests.api.helpers import make_key
from tests.support.server import Api


def test_privileges_are_listed_for_any_identity(api: Api) -> None:
    """Every privilege id comes with its title, `admin` first, for any key; no credentials: refused."""
    body = api.ok("get_privileges")
    assert body["rows"][0] == {"id": "admin", "title": "Administrator"}
    assert {r["id"]: r["title"] for r in body["rows"]} == PRIVILEGE_TITLES
    assert body["list"]["length"] == len(PRIVILEGE_TITLES)
    limited, _ = make_key(api, {"run_jobs": True})
    assert limited.ok("get_privileges")["rows"] == body["rows"]
    status, _code, _description = api.with_key(None).error("get_privileges")
    assert status in (401, 403)
