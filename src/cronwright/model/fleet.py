"""Response envelopes of the agents' endpoints (api/routes/satellite.py), for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from cronwright.model.api import Envelope, ListInfo


class SatelliteTokenResult(Envelope):
    token: str = Field(description="The install token (64 hex characters), shown once.")
    base_url: str = Field(description="The conductor's public URL (`--conductor` of `cronwright agent`).")
    image: str = Field("", description="Unused (xyOps: a container image).")
    version: str = Field("", description="Unused (xyOps: the satellite version).")


class UploadJobFileResult(Envelope):
    key: str = Field(description="Storage key `files/jobs/<job id>/<random>/<name>`.")
    size: int = Field(description="Bytes stored.")


class SatelliteToken(BaseModel):
    id: str = Field(description="The first 16 hex digits of the token's sha256 (names it; cannot enrol).")
    username: str | None = Field(None, description="Who created it.")
    created: int = Field(description="Unix seconds.")
    expires: int = Field(description="Unix seconds.")
    params: dict[str, Any] = Field(default_factory=dict, description="The metadata new servers get.")


class SatelliteTokenList(Envelope):
    rows: list[SatelliteToken]
    list: ListInfo
