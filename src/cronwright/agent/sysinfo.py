"""What an agent tells the conductor about its host (servers-agents.md §2.1): the ``info`` sent with
``hello`` (the "each connect" rows) and the ``data`` of each ``monitor`` minute sample."""

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


def _load_1m() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def _memory() -> dict[str, int]:
    memory = psutil.virtual_memory()
    return {
        "total": memory.total,
        "free": memory.free,
        "available": memory.available,
        "active": getattr(memory, "active", memory.used),
        "used": memory.used,
    }


def host_info(hostname: str) -> dict[str, Any]:
    """Agent version, OS basics, boot time, CPU facts, load average and memory (bytes)."""
    arch = _ARCH.get(platform.machine().lower(), platform.machine().lower())
    release = _os_release()
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
            "avgLoad": _load_1m(),
        },
        "memory": _memory(),
        "process": {"pid": os.getpid()},
    }


class MinuteSampler:
    """Makes the ``data`` of ``monitor`` minute samples; the percentages cover the time since the
    previous sample (since construction for the first)."""

    def __init__(self) -> None:
        self._me = psutil.Process()
        self._me.cpu_percent(None)
        psutil.cpu_percent(None)

    def sample(self) -> dict[str, Any]:
        """``cpu`` (``cores``, ``avgLoad`` = the 1-minute load average, not divided by cores,
        ``currentLoad`` = % busy), ``memory`` (bytes) and the agent's own ``process`` (``pid``,
        ``started``, RSS ``mem``, ``cpu`` % of one core)."""
        with self._me.oneshot():
            process = {
                "pid": self._me.pid,
                "started": self._me.create_time(),
                "mem": self._me.memory_info().rss,
                "cpu": self._me.cpu_percent(None),
            }
        return {
            "cpu": {"cores": psutil.cpu_count() or 1, "avgLoad": _load_1m(), "currentLoad": psutil.cpu_percent(None)},
            "memory": _memory(),
            "process": process,
        }
