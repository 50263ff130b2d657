"""The agent's credential file ``agent.json`` (mode 0600) and enrolment (fleet.md "Enrolment").

``enroll`` exchanges an install token for a config at ``GET {URL}/api/app/satellite/config?t=TOKEN``
(servers-agents.md §4.3): a raw JSON body with ``server_id``, ``auth_token``, ``hosts`` and ``initial``.
Neither the install token nor ``auth_token`` is ever logged or put in an exception message.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

CONFIG_NAME = "agent.json"
ENROLL_TIMEOUT_S = 10.0


class EnrollError(Exception):
    """The conductor did not answer the install token with a usable agent config."""


@dataclass
class AgentConfig:
    server_id: str
    auth_token: str
    #: conductors' base URLs (``hosts`` from enrolment, then ``masterData.masters``)
    hosts: list[str] = field(default_factory=list)
    #: install metadata, sent with the first hello and dropped after the first join
    initial: dict[str, Any] = field(default_factory=dict)
    #: every other key of the config (fleet-wide settings pushed by the conductor)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> AgentConfig:
        server_id, auth_token = doc.get("server_id"), doc.get("auth_token")
        if not isinstance(server_id, str) or not server_id or not isinstance(auth_token, str) or not auth_token:
            raise EnrollError("the agent config has no server_id or auth_token")
        hosts = [str(h) for h in doc.get("hosts") or [] if isinstance(h, str | int) and str(h)]
        initial = doc.get("initial") if isinstance(doc.get("initial"), dict) else {}
        known = {"server_id", "auth_token", "hosts", "initial"}
        return cls(server_id, auth_token, hosts, dict(initial or {}), {k: v for k, v in doc.items() if k not in known})

    def as_document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {**self.extra, "server_id": self.server_id, "auth_token": self.auth_token}
        doc["hosts"] = list(self.hosts)
        if self.initial:
            doc["initial"] = self.initial
        return doc


def default_data_dir() -> Path:
    """``/var/lib/cronwright/agent`` as root, else ``~/.cronwright/agent``."""
    if os.geteuid() == 0:
        return Path("/var/lib/cronwright/agent")
    return Path.home() / ".cronwright" / "agent"


def load_config(data_dir: Path) -> AgentConfig | None:
    """The saved config, or None when there is none yet. A damaged file raises ``EnrollError``."""
    path = data_dir / CONFIG_NAME
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        raise EnrollError(f"{path} is not valid JSON") from None
    if not isinstance(doc, dict):
        raise EnrollError(f"{path} does not hold a JSON object")
    return AgentConfig.from_document(doc)


def save_config(data_dir: Path, config: AgentConfig) -> None:
    """Write ``agent.json`` atomically, readable by its owner only (0600 from the first byte)."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = data_dir / CONFIG_NAME
    partial = data_dir / f".{CONFIG_NAME}.partial"
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(config.as_document(), out, indent=2)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())
    os.chmod(partial, 0o600)
    os.replace(partial, path)


def enroll(conductor_url: str, install_token: str, *, transport: httpx.BaseTransport | None = None) -> AgentConfig:
    """Fetch a new server config for this machine from ``conductor_url`` with an install token."""
    url = conductor_url.rstrip("/") + "/api/app/satellite/config"
    try:
        with httpx.Client(timeout=ENROLL_TIMEOUT_S, transport=transport) as client:
            response = client.get(url, params={"t": install_token})
    except httpx.HTTPError as exc:
        raise EnrollError(f"cannot reach {conductor_url}: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise EnrollError(f"{conductor_url} refused the install token (HTTP {response.status_code})")
    try:
        doc = response.json()
    except ValueError:
        raise EnrollError(f"{conductor_url} answered the enrolment with something other than JSON") from None
    if not isinstance(doc, dict):
        raise EnrollError(f"{conductor_url} answered the enrolment with something other than a JSON object")
    if "code" in doc and doc.get("code") not in (0, None) and "server_id" not in doc:
        raise EnrollError(f"{conductor_url} refused the install token: {doc.get('description', doc.get('code'))}")
    return AgentConfig.from_document(doc)
