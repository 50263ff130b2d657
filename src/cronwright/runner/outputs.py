"""Output files a plugin declared (plugins.md §5), resolved to existing regular files.

Entries are ``"path/or/glob"``, ``[path, filename]``, ``[path, filename, delete]`` or
``{path, filename?, delete?}``; relative paths are under the job's cwd, absolute ones are allowed
(as in xyOps). A path is globbed unless a ``filename`` is given; a glob that matches nothing yields
nothing, anything else that cannot be used becomes a notice.
"""

from __future__ import annotations

import glob
import os
import re
import stat
from pathlib import Path
from typing import Any

from cronwright.runner.base import OutputFile

# xyOps keeps these characters (JavaScript's ASCII \w and \s) and replaces each run of others by "_"
_UNSAFE = re.compile(r"""[^\w\-+.,\s()\[\]{}'"!&^%$#@*?~]+""", re.ASCII)
_MAGIC = re.compile(r"[*?\[]")


def clean_filename(name: str) -> str:
    """The stored name of a file: its base name with unsafe characters replaced by ``_``."""
    return _UNSAFE.sub("_", os.path.basename(name))


def _is_regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except (OSError, ValueError):
        return False


def _parse_entry(entry: Any) -> tuple[Any, Any, Any]:
    """``(path, filename, delete)`` of one entry; ``path`` is None for an unusable entry."""
    if isinstance(entry, str):
        return entry, None, False
    if isinstance(entry, list | tuple) and entry:
        padded = [*entry, None, False][:3]
        return padded[0], padded[1], padded[2]
    if isinstance(entry, dict):
        return entry.get("path"), entry.get("filename"), entry.get("delete", False)
    return None, None, False


def resolve_output_files(specs: Any, cwd: Path) -> tuple[list[OutputFile], list[str]]:
    """Resolve a plugin's ``files`` list (a single entry is accepted too) to ``OutputFile``s plus
    notices about entries that were ignored. The same path under the same name is listed once."""
    if specs is None:
        return [], []
    entries = specs if isinstance(specs, list) else [specs]
    files: list[OutputFile] = []
    notices: list[str] = []
    seen: set[tuple[Path, str]] = set()

    def add(path: Path, filename: str, delete: bool) -> None:
        name = clean_filename(filename)
        if name and (path, name) not in seen:
            seen.add((path, name))
            files.append(OutputFile(path=path, filename=name, delete=delete))

    for entry in entries:
        raw_path, filename, delete = _parse_entry(entry)
        if not isinstance(raw_path, str) or not raw_path.strip():
            notices.append(f"Malformed output file entry ignored: {entry!r:.200}")
            continue
        path = Path(raw_path) if os.path.isabs(raw_path) else cwd / raw_path
        if filename not in (None, ""):
            if _is_regular_file(path):
                add(path, str(filename), bool(delete))
            else:
                notices.append(f"Output file not found or not a regular file: {raw_path}")
        elif _MAGIC.search(raw_path):
            for match in sorted(glob.glob(str(path))):
                if _is_regular_file(Path(match)):
                    add(Path(match), match, bool(delete))
        elif _is_regular_file(path):
            add(path, path.name, bool(delete))
        elif path.exists():
            notices.append(f"Output file is not a regular file: {raw_path}")
    return files, notices
