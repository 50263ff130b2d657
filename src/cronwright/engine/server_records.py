"""Server records as plain data (servers-agents.md §2, §3, §5.2, §9): the merge of an agent's
``hello`` with its stored record, group membership, ``info`` clean-up, ``keywords``, the checks of
``update_server``, and the cache of recently disconnected servers. No I/O and no clock reads: the
registry (``servers.py``) passes the time and the groups in."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from cronwright.agent.protocol import normalize_hostname
from cronwright.engine.common import MAX_SAFE_INT
from cronwright.engine.identity import Identity
from cronwright.engine.validation.patterns import ID_RE, RegexTooCostly, compile_user_regex
from cronwright.errors import CwError, Forbidden, api_error

#: ``info`` sections that are always objects on a stored record (§5.2)
INFO_SECTIONS = ("os", "memory", "cpu", "virt", "features", "monitors", "deltas")
#: hello keys (install metadata) that may land on a new record; nothing else an agent says is kept
METADATA_KEYS = ("title", "icon", "groups", "enabled", "maxJobs", "userData")
#: what ``update_server`` applies (CHOICE of §9); other keys are ignored
UPDATABLE_KEYS = ("title", "icon", "enabled", "groups", "autoGroup", "maxJobs", "userData")
#: the longest ``title`` / ``icon`` kept, characters
MAX_TEXT_CHARS = 1024
#: the most group ids one server may list
MAX_GROUPS = 1000
_TRUE = ("true", "1")
_FALSE = ("false", "0")


# ---- info and keywords


def cpu_combo(cpu: dict[str, Any]) -> str:
    """``manufacturer`` (or ``vendor`` when that is ``-``, ``unknown`` or empty) + " " + ``brand``,
    trimmed; ``Unknown`` when both are missing (§2.1)."""
    maker = cpu.get("manufacturer")
    if not isinstance(maker, str) or maker.strip().lower() in ("", "-", "unknown"):
        maker = cpu.get("vendor")
    brand = cpu.get("brand")
    parts = [p.strip() for p in (maker, brand) if isinstance(p, str) and p.strip()]
    return " ".join(parts) or "Unknown"


def normalize_info(info: Any) -> dict[str, Any]:
    """An agent's ``info`` as stored: an object whose sections of ``INFO_SECTIONS`` are objects
    (``{}`` when missing or malformed), with ``cpu.combo`` computed."""
    clean = dict(info) if isinstance(info, dict) else {}
    for section in INFO_SECTIONS:
        value = clean.get(section)
        clean[section] = dict(value) if isinstance(value, dict) else {}
    clean["cpu"]["combo"] = cpu_combo(clean["cpu"])
    return clean


def build_keywords(doc: dict[str, Any]) -> str:
    """The CSV of §2 ``keywords``: hostname, ip, groups, OS, CPU and virtualisation facts, title;
    missing values read ``unknown``."""
    raw_info = doc.get("info")
    info: dict[str, Any] = raw_info if isinstance(raw_info, dict) else {}

    def section(name: str) -> dict[str, Any]:
        value = info.get(name)
        return value if isinstance(value, dict) else {}

    def text(value: Any) -> str:
        if isinstance(value, bool) or value is None or value == "":
            return "unknown"
        return str(value) if isinstance(value, (str, int, float)) else "unknown"

    os_, cpu, virt = section("os"), section("cpu"), section("virt")
    raw_groups = doc.get("groups")
    groups: list[Any] = raw_groups if isinstance(raw_groups, list) else []
    parts = [
        text(doc.get("hostname")),
        text(doc.get("ip")),
        ",".join(g for g in groups if isinstance(g, str)),
        *(text(os_.get(k)) for k in ("platform", "distro", "release", "arch")),
        *(text(cpu.get(k)) for k in ("manufacturer", "brand")),
        *(text(virt.get(k)) for k in ("vendor", "type", "location")),
        text(doc.get("title")),
    ]
    return ",".join(parts)


def merge_sample(info: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """``info`` after a minute sample's ``data``: its ``cpu`` facts (with ``avgLoad``) and its
    ``memory`` figures replace the old ones key by key (finite numbers and short strings only);
    ``process`` is taken when it is an object."""
    merged = dict(info)
    for name in ("cpu", "memory"):
        given = data.get(name)
        if isinstance(given, dict):
            section = dict(merged.get(name) or {})
            section.update({k: v for k, v in given.items() if isinstance(k, str) and _plain_scalar(v)})
            merged[name] = section
    merged["cpu"] = dict(merged.get("cpu") or {})
    merged["cpu"]["combo"] = cpu_combo(merged["cpu"])
    process = data.get("process")
    if isinstance(process, dict):
        merged["process"] = {k: v for k, v in process.items() if isinstance(k, str) and _plain_scalar(v)}
    return merged


def _plain_scalar(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) <= MAX_SAFE_INT
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str) and len(value) <= MAX_TEXT_CHARS


# ---- groups (§3)


def matching_groups(hostname: str, groups: Iterable[dict[str, Any]]) -> list[str]:
    """Ids of the groups whose ``hostname_match`` (unanchored, case-sensitive) matches the
    lower-cased ``hostname``, in group-list order (``sort_order``); an invalid or too costly pattern
    matches nothing."""
    name = hostname.lower()
    matched = []
    for group in ordered_groups(groups):
        try:
            if compile_user_regex(group.get("hostname_match")).search(name):
                matched.append(group["id"])
        except (CwError, RegexTooCostly):
            continue
    return matched


def ordered_groups(groups: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(group: dict[str, Any]) -> float:
        order = group.get("sort_order")
        return float(order) if isinstance(order, (int, float)) and not isinstance(order, bool) else math.inf

    return sorted(groups, key=key)  # stable: equal orders keep the stored order


def assign_groups(doc: dict[str, Any], groups: list[dict[str, Any]]) -> dict[str, Any]:
    """``doc`` with ``groups`` (and maybe ``autoGroup``) per §3: computed from the host name when
    ``autoGroup``; otherwise ids of deleted groups are dropped, and an emptied list switches the
    server to ``autoGroup``."""
    result = dict(doc)
    hostname = str(result.get("hostname") or result.get("id") or "")
    if not result.get("autoGroup"):
        known = {g["id"] for g in groups}
        listed = result.get("groups")
        current = [g for g in listed if isinstance(g, str)] if isinstance(listed, list) else []
        kept = [g for g in current if g in known]
        if kept or not current:  # an empty manual list (set on purpose) stays empty
            result["groups"] = kept
            return result
        result["autoGroup"] = True
    result["groups"] = matching_groups(hostname, groups)
    return result


# ---- the hello of an agent (§5.2)


def install_metadata(hello: dict[str, Any]) -> dict[str, Any]:
    """The keys of ``METADATA_KEYS`` an agent's hello carried (top level, or under ``initial``),
    each kept only when well-formed (``enabled`` only as a boolean)."""
    raw_initial = hello.get("initial")
    initial: dict[str, Any] = raw_initial if isinstance(raw_initial, dict) else {}
    given = {**initial, **{k: v for k, v in hello.items() if k in METADATA_KEYS}}
    found: dict[str, Any] = {}
    for key in METADATA_KEYS:
        if key not in given or (key == "enabled" and not isinstance(given[key], bool)):  # only a real boolean
            continue
        try:
            found[key] = coerce_field(key, given[key])
        except CwError:
            continue
    return found


def merge_hello(
    stored: dict[str, Any] | None,
    *,
    server_id: str,
    hello: dict[str, Any],
    ip: str,
    socket_id: str,
    now: int,
    groups: list[dict[str, Any]],
) -> dict[str, Any]:
    """The record after a join: a stored record keeps every field except ``info``, ``hostname``,
    ``ip`` and ``socket_id`` (the hello's); a new one takes the install metadata, ``enabled`` (a
    boolean ``enabled`` of the hello, else true) and ``autoGroup`` (false when the hello listed
    groups). Then groups (§3), ``info`` sections and ``keywords``."""
    live = {
        "hostname": normalize_hostname(hello.get("hostname")) or server_id,
        "ip": str(ip)[:MAX_TEXT_CHARS],
        "socket_id": str(socket_id)[:MAX_TEXT_CHARS],
        "info": normalize_info(hello.get("info")),
    }
    if stored is not None:
        doc = {**stored, **live, "id": server_id}
    else:
        metadata = install_metadata(hello)
        doc = {
            "id": server_id,
            **live,
            "title": metadata.get("title", ""),
            "enabled": metadata.get("enabled", True),
            "autoGroup": not metadata.get("groups"),
            "groups": metadata.get("groups") or [],
            "maxJobs": metadata.get("maxJobs", 0),
            "userData": metadata.get("userData", {}),
            "created": now,
        }
        if "icon" in metadata:
            doc["icon"] = metadata["icon"]
    doc["modified"] = now
    doc = assign_groups(doc, groups)
    doc["keywords"] = build_keywords(doc)
    return doc


# ---- update_server (§9 CHOICE)


def coerce_field(key: str, value: Any) -> Any:
    """One ``update_server`` field in its stored type; ``api`` "Malformed server parameter: KEY"."""
    if key in ("enabled", "autoGroup"):
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
    elif key in ("title", "icon"):
        if isinstance(value, str) and len(value) <= MAX_TEXT_CHARS:
            return value
    elif key == "maxJobs":
        if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 16:
            value = int(value.strip())
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SAFE_INT:
            return value
    elif key == "userData":
        if isinstance(value, dict):
            return value
    elif key == "groups":
        if not isinstance(value, list):
            raise api_error("Malformed server parameter: groups (must be array)")
        if len(value) <= MAX_GROUPS and all(isinstance(g, str) and ID_RE.match(g) for g in value):
            return list(dict.fromkeys(value))
    raise api_error(f"Malformed server parameter: {key}")


def coerce_update(params: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``UPDATABLE_KEYS`` present in ``params``, coerced (others are ignored)."""
    return {key: coerce_field(key, params[key]) for key in UPDATABLE_KEYS if key in params}


def _groups_of(doc: dict[str, Any]) -> list[Any]:
    listed = doc.get("groups")
    return listed if isinstance(listed, list) else []


def require_visible(who: Identity, server: dict[str, Any]) -> None:
    """Target scope on the server's groups (a server without groups passes): ``access``."""
    groups = _groups_of(server)
    if not who.can_targets(groups):
        shown = ", ".join(str(g) for g in groups)
        raise Forbidden("access", f"You do not have the required account privileges to access targets: {shown}.")


def updated_record(
    current: dict[str, Any], changes: dict[str, Any], *, who: Identity, groups: list[dict[str, Any]], now: int
) -> dict[str, Any]:
    """``current`` after ``update_server``'s coerced ``changes``, when ``who`` may make them: it must
    see the server, and the resulting groups (computed from the host name for ``autoGroup: true``,
    else the given or current ones) must all be its own. ``autoGroup: true`` recomputes the groups
    at once; ``groups`` on an auto server are kept until its next connect or group change (§3)."""
    if not who.can_targets(_groups_of(current)):
        raise Forbidden(
            "access", f"You do not have the required account privileges to access server ID {current['id']}."
        )
    if changes.get("autoGroup"):
        wanted = matching_groups(str(current.get("hostname") or current["id"]), groups)
    else:
        wanted = _groups_of({"groups": changes.get("groups", current.get("groups"))})
    if not who.is_admin and who.groups and any(g not in who.groups for g in wanted):
        raise Forbidden(
            "access", "You do not have the required account privileges to assign the requested server groups."
        )
    merged = {**current, **changes, "modified": now}
    if changes.get("autoGroup"):
        merged["groups"] = wanted
    merged["keywords"] = build_keywords(merged)
    return merged


# ---- recently offline (§8.1)


class RecentlyOffline:
    """The most recently disconnected servers' last records (``limit`` of them, each for at most
    ``max_age_s``), so ``get_server`` can still show their last ``info``."""

    def __init__(self, limit: int = 10, max_age_s: float = 86400.0) -> None:
        self.limit = limit
        self.max_age_s = max_age_s
        self._items: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()

    def put(self, server_id: str, record: dict[str, Any], epoch: float) -> None:
        self._items.pop(server_id, None)
        self._items[server_id] = (epoch, record)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)

    def get(self, server_id: str, now: float) -> dict[str, Any] | None:
        item = self._items.get(server_id)
        if item is None:
            return None
        if now - item[0] > self.max_age_s:
            del self._items[server_id]
            return None
        return item[1]

    def pop(self, server_id: str) -> None:
        self._items.pop(server_id, None)

    def ids(self) -> list[str]:
        return list(self._items)
