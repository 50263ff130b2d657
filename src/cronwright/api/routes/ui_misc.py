"""Cronwright extensions the web UI's misc pages need beyond the xyOps API (docs/ui.md lists them)."""

from __future__ import annotations

from cronwright.api.registry import EndpointSet

router = EndpointSet(tag="Web UI")
