"""The supporting entities: what each one requires, defaults and checks (supporting-apis.md)."""

from __future__ import annotations

from typing import Any

from cronwright.engine.catalog import Catalog
from cronwright.engine.entities import Kind, invalid
from cronwright.engine.identity import Identity
from cronwright.engine.lookup import CatalogLookup
from cronwright.engine.permits import Permits
from cronwright.engine.secrets import present_web_hook
from cronwright.engine.validation import (
    validate_actions,
    validate_limits,
    validate_optional_params,
    validate_param_definitions,
)
from cronwright.engine.validation.patterns import compile_user_regex
from cronwright.errors import BadRequest, Conflict, CwError, Forbidden
from cronwright.notify import WEB_HOOK_DEFAULTS, validate_web_hook

PLUGIN_TYPES = ("event", "monitor", "action", "scheduler")
KILL_POLICIES = ("none", "parent", "all")
CATEGORY_COLORS = frozenset(
    [
        "plain",
        "red",
        "fire",
        "orange",
        "tangerine",
        "amber",
        "gold",
        "yellow",
        "lemon",
        "lime",
        "grass",
        "green",
        "mint",
        "emerald",
        "aqua",
        "teal",
        "turquoise",
        "cyan",
        "ice",
        "skyblue",
        "azure",
        "blue",
        "sapphire",
        "indigo",
        "lavender",
        "violet",
        "orchid",
        "purple",
        "magenta",
        "fuchsia",
        "hotpink",
        "pink",
        "blush",
        "rose",
    ]
)
_FLAG = ("^(boolean|number)$", r"^(true|false|\d+)$")
_NUMBER = ("^number$", r"^-?\d+(\.\d+)?(e[+-]?\d+)?$")


def _string_list(doc: dict[str, Any], key: str) -> None:
    value = doc.get(key)
    if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise invalid(key, "must be an array of strings")


def _object(doc: dict[str, Any], key: str) -> None:
    if key in doc and not isinstance(doc[key], dict):
        raise invalid(key, "must be an object")


def _validate_category(doc: dict[str, Any], catalog: Catalog, creating: bool) -> None:
    validate_optional_params(doc, {"enabled": _FLAG, "sort_order": _NUMBER})
    color = doc.get("color")
    if color is not None and color not in CATEGORY_COLORS:
        raise invalid("color", f"unknown color {color!r}")
    validate_limits(doc.get("limits"))
    validate_actions(doc.get("actions"), lookup=CatalogLookup(catalog))


def _category_in_use(doc: dict[str, Any], catalog: Catalog) -> None:
    if any(e.get("category") == doc["id"] for e in catalog["events"].values()):
        raise Conflict("category", "Failed to delete category: Still in use by one or more events.")


def _authorize_category(
    permits: Permits, who: Identity, after: dict[str, Any] | None, before: dict[str, Any] | None
) -> None:
    """A category's actions run for every job in it: each new one is authorized like the same action
    on an event of the category (``Permits.check_actions``)."""
    if after is not None and isinstance(after.get("actions"), list):
        existing = before.get("actions") if before is not None else None
        permits.check_actions(
            who, after["actions"], category=after, existing=existing if isinstance(existing, list) else []
        )


def _validate_group(doc: dict[str, Any], catalog: Catalog, creating: bool) -> None:
    validate_optional_params(doc, {"max_jobs_per_server": _NUMBER, "sort_order": _NUMBER})
    pattern = doc.get("hostname_match")
    if not isinstance(pattern, str) or not pattern.strip():
        raise BadRequest("group", "Invalid hostname match: must be a non-empty regular expression")
    try:
        compile_user_regex(pattern)
    except CwError as exc:
        raise BadRequest("group", f"Invalid hostname match: {exc.description}") from None


def _authorize_group(
    permits: Permits, who: Identity, after: dict[str, Any] | None, before: dict[str, Any] | None
) -> None:
    """A group's ``hostname_match`` decides which servers it holds, so for a caller limited to some
    groups changing it would widen their own scope: only callers without group limits may."""
    if who.is_admin or not who.groups or after is None:
        return
    if before is None or after.get("hostname_match") != before.get("hostname_match"):
        raise Forbidden(
            "access",
            f"{who.title} is limited to some groups: only an unlimited caller may set a group's hostname match.",
        )


def _validate_plugin(doc: dict[str, Any], catalog: Catalog, creating: bool) -> None:
    if doc.get("type") not in PLUGIN_TYPES:
        raise invalid("type", "must be one of " + ", ".join(PLUGIN_TYPES))
    validate_optional_params(doc, {"enabled": _FLAG, "timeout": _NUMBER})
    if "kill" in doc and doc["kill"] not in KILL_POLICIES:
        raise invalid("kill", "must be one of " + ", ".join(KILL_POLICIES))
    if "params" in doc:
        validate_param_definitions(doc["params"])
    for key in ("script", "cwd"):
        if key in doc and not isinstance(doc[key], str):
            raise invalid(key, "must be a string")


def _validate_role(doc: dict[str, Any], catalog: Catalog, creating: bool) -> None:
    validate_optional_params(doc, {"enabled": _FLAG})
    _object(doc, "privileges")
    _string_list(doc, "categories")
    _string_list(doc, "groups")


def _authorize_role(
    permits: Permits, who: Identity, after: dict[str, Any] | None, before: dict[str, Any] | None
) -> None:
    """Nobody grants more than they hold (``Permits.role_change``)."""
    role = after if after is not None else before
    if role is not None:
        permits.role_change(who, role, before)


def _validate_api_key(doc: dict[str, Any], catalog: Catalog, creating: bool) -> None:
    validate_optional_params(
        doc, {"active": _FLAG, "expires": _NUMBER, "max_per_sec": _NUMBER, "description": ("^string$", ".*")}
    )
    _object(doc, "privileges")
    for key in ("roles", "categories", "groups"):
        _string_list(doc, key)


CATEGORIES = Kind(
    kind="categories",
    one="category",
    many="categories",
    title="Category",
    noun="category",
    prefix="ca",
    code="category",
    activity="category",
    privileges=("create_categories", "edit_categories", "delete_categories"),
    scope="category",
    defaults={"enabled": True, "color": "plain", "limits": [], "actions": []},
    sort_order=True,
    validate=_validate_category,
    delete_check=_category_in_use,
    authorize=_authorize_category,
)

GROUPS = Kind(
    kind="groups",
    one="group",
    many="groups",
    title="Group",
    noun="group",
    prefix="g",
    code="group",
    activity="group",
    privileges=("create_groups", "edit_groups", "delete_groups"),
    scope="group",
    required={"hostname_match": r"\S"},
    defaults={"max_jobs_per_server": 0},
    sort_order=True,
    validate=_validate_group,
    authorize=_authorize_group,
)

PLUGINS = Kind(
    kind="plugins",
    one="plugin",
    many="plugins",
    title="Plugin",
    noun="plugin",
    prefix="p",
    code="plugin",
    activity="plugin",
    privileges=("create_plugins", "edit_plugins", "delete_plugins"),
    required={"type": r"^\w+$", "command": r"\S"},
    defaults={"enabled": True, "kill": "parent", "params": []},
    validate=_validate_plugin,
    update_returns_doc=True,
    update_missing_code="api",
)

TAGS = Kind(
    kind="tags",
    one="tag",
    many="tags",
    title="Tag",
    noun="tag",
    prefix="t",
    code="tag",
    activity="tag",
    privileges=("create_tags", "edit_tags", "delete_tags"),
    duplicate_prefix="",
)

ROLES = Kind(
    kind="roles",
    one="role",
    many="roles",
    title="Role",
    noun="role",
    prefix="r",
    code="role",
    activity="role",
    privileges=("create_roles", "edit_roles", "delete_roles"),
    defaults={"enabled": True, "privileges": {}, "categories": [], "groups": []},
    validate=_validate_role,
    authorize=_authorize_role,
)

API_KEYS = Kind(
    kind="api_keys",
    one="api_key",
    many="api_keys",
    title="API Key",
    noun="API Key",
    prefix="k",
    code="api_key",
    activity="apikey",
    privileges=None,
    defaults={"active": 1, "description": "", "privileges": {}},
    validate=_validate_api_key,
    immutable=("key", "mask"),
    newest_first=True,
)


def _validate_web_hook(doc: dict[str, Any], catalog: Catalog, creating: bool) -> None:
    validate_web_hook(doc)


WEB_HOOKS = Kind(
    kind="web_hooks",
    one="web_hook",
    many="web_hooks",
    title="Web Hook",
    noun="web hook",
    prefix="w",
    code="web_hook",
    activity="web_hook",
    privileges=("create_web_hooks", "edit_web_hooks", "delete_web_hooks"),
    required={"method": r"^\w+$", "url": r"\S"},
    defaults=WEB_HOOK_DEFAULTS,
    validate=_validate_web_hook,
    present=present_web_hook,
)

ALL_KINDS = (CATEGORIES, GROUPS, PLUGINS, TAGS, ROLES, API_KEYS, WEB_HOOKS)
