"""Cronwright extensions the web UI's misc pages need beyond the xyOps API (docs/ui.md lists them)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from cronwright.api.registry import Ctx, EndpointSet
from cronwright.engine.privileges import PRIVILEGE_TITLES
from cronwright.model import api as m

router = EndpointSet(tag="Web UI")


class Privilege(BaseModel):
    id: str = Field(description="The privilege id, a key of `privileges` objects.")
    title: str = Field(description="Its name for people.")


class PrivilegeList(m.Envelope):
    rows: list[Privilege]
    list: m.ListInfo


@router.endpoint(
    "get_privileges",
    style="read",
    summary="List the privilege ids and their titles (Cronwright extension)",
    response=PrivilegeList,
)
def get_privileges(ctx: Ctx) -> dict[str, Any]:
    """Any valid identity. Every privilege id a user, role or API key may hold (`admin` first), with
    its title, in a stable order: the web UI builds its privilege checkboxes from this list."""
    ctx.authenticate()
    rows = [{"id": priv_id, "title": title} for priv_id, title in PRIVILEGE_TITLES.items()]
    return {"rows": rows, "list": {"length": len(rows)}}
