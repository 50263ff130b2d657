"""The ``info`` an agent sends with ``hello`` (servers-agents.md §2.1, the "each connect" rows)."""

from __future__ import annotations

import os
import platform
import socket
from typing import Any

import psutil

from cronwright import __version__

_ARCH = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "i386": "ia32", "i686": "ia32"}


def _os_release() -> dict[str, str]:
    fields: dict[str, str] = {}
    try:
        with open("/etc/os-release", encoding="utf-8") as source:
            for line in source:
                key, _, value = line.strip().partition("=")
                if key:
                    fields[key] = value.strip().strip('"')
    except OSError:
        pass
    return fields


def host_info(hostname: str) -> dict[str, Any]:
    """Agent version, OS basics, boot time, CPU facts, load average and memory (bytes)."""
    arch = _ARCH.get(platform.machine().lower(), platform.machine().lower())
    release = _os_release()
    memory = psutil.virtual_memory()
    try:
        load_1m = os.getloadavg()[0]
    except OSError:
        load_1m = 0.0
    cpu_name = platform.processor() or ""
    return {
        "satellite": f"cronwright-{__version__}",
        "platform": platform.system().lower(),
        "arch": arch,
        "release": platform.release(),
        "booted": psutil.boot_time(),
        "os": {
            "platform": platform.system(),
            "distro": release.get("NAME", platform.system()),
            "release": release.get("VERSION_ID", platform.release()),
            "codename": release.get("VERSION_CODENAME", ""),
            "kernel": platform.release(),
            "arch": arch,
            "hostname": hostname,
            "fqdn": socket.getfqdn(),
        },
        "cpu": {
            "brand": cpu_name,
            "cores": psutil.cpu_count() or 1,
            "physicalCores": psutil.cpu_count(logical=False) or psutil.cpu_count() or 1,
            "avgLoad": load_1m,
        },
        "memory": {
            "total": memory.total,
            "free": memory.free,
            "available": memory.available,
            "active": getattr(memory, "active", memory.used),
            "used": memory.used,
        },
        "process": {"pid": os.getpid()},
    }
