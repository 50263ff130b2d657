"""The plugins a conductor sent (``joined`` and ``update {plugins}``, servers-agents.md §6.6), kept in
memory and as script files under ``<data-dir>/plugins/<plugin id>`` (for the operator; a job runs the
cached ``script`` through the runner, which writes its own copy into the job directory)."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
_SAFE_ID = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")


class PluginCache:
    """The current event plugins by id."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._plugins: dict[str, dict[str, Any]] = {}

    def get(self, plugin_id: Any) -> dict[str, Any] | None:
        return self._plugins.get(plugin_id) if isinstance(plugin_id, str) else None

    def replace(self, plugins: Any) -> None:
        """Take a full plugin list: write each non-empty script, delete files of plugins no longer listed."""
        if not isinstance(plugins, list):
            return
        fresh = {p["id"]: p for p in plugins if isinstance(p, dict) and isinstance(p.get("id"), str)}
        self._plugins = fresh
        try:
            self._write_scripts()
        except OSError as exc:  # the cache in memory is what jobs use: a full disk must not stop the agent
            log.warning("plugin scripts not written to %s: %s", self.directory, exc)
        log.info("plugins cached: %d", len(fresh))

    def _write_scripts(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        keep: set[str] = set()
        for plugin_id, plugin in self._plugins.items():
            script = plugin.get("script")
            if not _SAFE_ID.match(plugin_id) or not isinstance(script, str) or not script:
                continue
            keep.add(plugin_id)
            path = self.directory / plugin_id
            partial = self.directory / f".{plugin_id}.partial"
            partial.write_text(script, "utf-8")
            os.chmod(partial, 0o700)
            os.replace(partial, path)
        for path in self.directory.iterdir():
            if path.is_file() and path.name not in keep:
                path.unlink(missing_ok=True)
