"""Response envelopes of the agents' endpoints (api/routes/satellite.py), for the OpenAPI document."""

from __future__ import annotations

from pydantic import Field

from cronwright.model.api import Envelope


class SatelliteTokenResult(Envelope):
    token: str = Field(description="The install token (64 hex characters), shown once.")
    base_url: str = Field(description="The conductor's public URL (`--conductor` of `cronwright agent`).")
    image: str = Field("", description="Unused (xyOps: a container image).")
    version: str = Field("", description="Unused (xyOps: the satellite version).")


class UploadJobFileResult(Envelope):
    key: str = Field(description="Storage key `files/jobs/<job id>/<random>/<name>`.")
    size: int = Field(description="Bytes stored.")
