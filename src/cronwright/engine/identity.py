"""Who is calling, and what they may do (api-conventions.md §6.4 and §7)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from cronwright.engine.catalog import Collection
from cronwright.engine.privileges import privilege_title
from cronwright.errors import Forbidden

IdentityKind = Literal["user", "key", "event", "link"]


@dataclass(frozen=True)
class Identity:
    """Who is acting, with privileges computed from its roles.

    ``user`` (a session) and ``key`` (an API key) are callers of the API. ``event`` is the authority of a
    job that nobody launched by hand (schedule, startup, magic link, chained from such a job): see
    ``for_event``. ``link`` is the anonymous caller of a magic link or form: no privileges at all.
    """

    kind: IdentityKind
    #: the user name, or the API key's record id
    username: str
    #: the key's title (keys) or the user's name (users), for messages
    title: str
    privileges: dict[str, Any] = field(default_factory=dict)
    categories: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @classmethod
    def from_record(cls, kind: Literal["user", "key"], record: dict[str, Any], roles: Collection) -> Identity:
        privileges = dict(record.get("privileges") or {}) if isinstance(record.get("privileges"), dict) else {}
        categories = list(_strings(record.get("categories")))
        groups = list(_strings(record.get("groups")))
        for role_id in _strings(record.get("roles")):
            role = roles.get(role_id)
            if not role or not role.get("enabled"):
                continue
            if isinstance(role.get("privileges"), dict):
                privileges.update(role["privileges"])
            categories.extend(_strings(role.get("categories")))
            groups.extend(_strings(role.get("groups")))
        if kind == "key":
            username, title = record["id"], str(record.get("title") or record["id"])
        else:
            username = title = record["username"]
        return cls(
            kind=kind,
            username=username,
            title=title,
            privileges=privileges,
            categories=tuple(dict.fromkeys(categories)),
            groups=tuple(dict.fromkeys(groups)),
        )

    @classmethod
    def for_event(cls, event: dict[str, Any]) -> Identity:
        """The authority of a job nobody launched by hand: what a non-admin may do who holds
        ``run_jobs``, ``edit_events`` and ``delete_events`` limited to this event's category and
        target groups (docs/security.md, "Job authority")."""
        targets = event.get("targets")
        return cls(
            kind="event",
            username=f"event:{event.get('id')}",
            title=str(event.get("title") or event.get("id")),
            privileges={"run_jobs": True, "edit_events": True, "delete_events": True},
            categories=(str(event.get("category")),),
            groups=tuple(_strings(targets)),
        )

    @classmethod
    def powerless(cls, kind: IdentityKind, username: str, title: str = "") -> Identity:
        """An identity without privileges, limited to nothing (a deleted key, a magic link)."""
        return cls(kind=kind, username=username, title=title or username, privileges={}, categories=("",), groups=("",))

    def intersect(self, other: Identity) -> Identity:
        """What both may do: privileges both hold, scope both allow (this one's name and kind)."""
        if other.is_admin:
            return self
        if self.is_admin:
            return replace(other, kind=self.kind, username=self.username, title=self.title)
        privileges = {p: True for p, granted in self.privileges.items() if granted and other.has(p)}
        return replace(
            self,
            privileges=privileges,
            categories=_meet(self.categories, other.categories),
            groups=_meet(self.groups, other.groups),
        )

    @property
    def is_admin(self) -> bool:
        return bool(self.privileges.get("admin"))

    @property
    def source(self) -> str:
        """The job ``source`` for launches by this caller."""
        return "key" if self.kind == "key" else "user"

    def has(self, priv_id: str) -> bool:
        return self.is_admin or bool(self.privileges.get(priv_id))

    def require(self, priv_id: str) -> None:
        if not self.has(priv_id):
            raise Forbidden(
                "access",
                f'{self._subject()} the "{privilege_title(priv_id)}" privilege required to perform this action.',
            )

    def require_admin(self) -> None:
        self.require("admin")

    # scope: categories and groups

    def can_category(self, category_id: Any) -> bool:
        return self.is_admin or not self.categories or category_id in self.categories

    def can_group(self, group_id: Any) -> bool:
        return self.is_admin or not self.groups or group_id in self.groups

    def can_targets(self, targets: Any) -> bool:
        if self.is_admin or not self.groups or not targets:
            return True
        return isinstance(targets, list) and any(t in self.groups for t in targets if isinstance(t, str))

    def require_category(self, category_id: Any) -> None:
        if not self.can_category(category_id):
            raise Forbidden("access", f"{self._subject()} the privilege required to access category ID {category_id}.")

    def require_group(self, group_id: Any) -> None:
        if not self.can_group(group_id):
            raise Forbidden("access", f"{self._subject()} the privilege required to access group ID {group_id}.")

    def require_targets(self, targets: Any) -> None:
        if not self.can_targets(targets):
            shown = ", ".join(str(t) for t in targets) if isinstance(targets, list) else str(targets)
            raise Forbidden("access", f"{self._subject()} the privilege required to access targets: {shown}.")

    def can_see(self, doc: dict[str, Any]) -> bool:
        """List filtering of events and jobs: allowed category and (unless a workflow) targets."""
        if self.is_admin:
            return True
        if self.categories and doc.get("category") not in self.categories:
            return False
        if self.groups and doc.get("type") != "workflow":
            return self.can_targets(doc.get("targets") or ["(none)"])
        return True

    def require_scope(self, doc: dict[str, Any]) -> None:
        """Category and target scope of an event (or job)."""
        self.require_category(doc.get("category"))
        if doc.get("type") != "workflow":
            self.require_targets(doc.get("targets") or [])

    def refuse_targets(self, targets: list[str]) -> Forbidden:
        """The error for running on ``targets`` outside the caller's groups."""
        return Forbidden("access", f"{self._subject()} the privilege required to run on targets: {', '.join(targets)}.")

    def _subject(self) -> str:
        if self.kind == "key":
            return f'API Key "{self.title}" does not have'
        if self.kind == "event":
            return f'A job of event "{self.title}" does not have'
        if self.kind == "link":
            return "A magic link does not have"
        return "You do not have"


def _meet(mine: tuple[str, ...], theirs: tuple[str, ...]) -> tuple[str, ...]:
    """The scope both limits allow (empty = unlimited; nothing in common = nothing)."""
    if not mine:
        return theirs
    if not theirs:
        return mine
    return tuple(c for c in mine if c in theirs) or ("",)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, list):
        return (v for v in value if isinstance(v, str))
    return ()
