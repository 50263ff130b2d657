"""What a caller may set: the one place that decides it (docs/security.md).

Every path by which someone shapes what runs, or what a run may do, asks ``Permits``:

========================  ==================================================================
``event_change``          ``create_event``, ``update_event``, and the ``update_event`` a job outputs
``run_request``           ``run_event`` overrides (params, targets, plugin, actions, limits)
``link_params``           magic links and their forms (anonymous: parameters only)
``check_actions``         actions saved on events and categories, run overrides, pushed by jobs
``screen_pushed``         actions and limits a running job pushes (refused ones are dropped)
``screen_outputs``        ``update_event`` / ``delete_event`` a job outputs (refused ones are dropped)
``role_change``           roles: nobody grants more than they hold
========================  ==================================================================

The rules:

1. **Locked parameters** (plugin param definitions with ``locked: true``; the Shell plugin's
   ``script``) are set by administrators only. For anyone else a locked value can only be one that
   is already stored for the same plugin (the event's params, or the same key in one of its
   triggers or actions); anything else becomes the plugin's default (params) or is removed
   (trigger params, so the event's value applies). A plugin change by a non-admin resets every
   locked value of the new plugin, whatever the request contains.
2. **Job overrides** (``_xy_override_<key>`` params) may set only ``OVERRIDABLE`` keys; ``targets``
   needs the caller's group scope, and a magic link may set only ``label``.
3. **Actions** are authorized by whoever adds them: a ``run_event`` action needs ``run_jobs`` and
   scope on its target event, ``delete``/``disable`` need ``delete_events``/``edit_events`` on the
   event they act on (for a category's actions: on that category), and an action plugin's locked
   params follow rule 1. Actions already stored unchanged are not re-checked.
4. **A job acts for whoever launched it, capped by its event** (``job_principal``): the user or
   API key of a ``run_event`` (read again at the time of the check, so a revoked key loses its power
   at once), nobody for a magic link, the event itself for schedules and other automatic launches;
   inherited along chains and retries (the job's ``principal``); and never more than the event's
   own authority (``Identity.for_event``), since an editor may have shaped what the job prints.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

from cronwright.engine.catalog import Catalog
from cronwright.engine.identity import Identity
from cronwright.engine.jobs.rules import EVENT_FORBIDDEN_KEYS
from cronwright.engine.lookup import CatalogLookup
from cronwright.engine.privileges import privilege_title
from cronwright.engine.validation import validate_actions, validate_limits
from cronwright.engine.validation.jsvalue import js_truthy
from cronwright.errors import CwError, Forbidden

#: ``_xy_override_<key>`` params may set these job fields, and no others (CRONWRIGHT DECISION)
OVERRIDABLE = ("label", "icon", "algo", "targets", "tags")
#: what an anonymous magic-link caller may override
LINK_OVERRIDABLE = ("label",)
OVERRIDE_PREFIX = "_xy_override_"
#: keys an action gets when it runs: ignored when comparing a submitted action with a stored one
_RESULT_KEYS = frozenset({"code", "description", "details", "date", "elapsed_ms", "source"})
_LIST_SPLIT = re.compile(r"\s*,\s*")


def locked_definitions(plugin: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The plugin's parameter definitions that only admins may set."""
    defs = plugin.get("params") if plugin else None
    return [d for d in defs or [] if isinstance(d, dict) and d.get("locked") and isinstance(d.get("id"), str)]


def override_key(name: Any) -> str | None:
    """The job field a ``_xy_override_<key>`` param name sets, or None (not an override)."""
    if isinstance(name, str) and name.startswith(OVERRIDE_PREFIX) and len(name) > len(OVERRIDE_PREFIX):
        return name[len(OVERRIDE_PREFIX) :]
    return None


def override_value(key: str, value: Any) -> Any:
    """The job value of an override: ``targets`` and ``tags`` are comma-separated lists."""
    if key in ("targets", "tags"):
        return [item for item in _LIST_SPLIT.split(value.strip()) if item]
    return value


def launch_principal(request: dict[str, Any]) -> str:
    """The principal tag of a new job (stored as its ``principal``): an inherited one (chains,
    retries), else by source: ``user:NAME`` / ``key:ID`` for ``run_event``, ``link`` for magic
    links, ``event`` for everything nobody launched by hand."""
    inherited = request.get("principal")
    if isinstance(inherited, str) and inherited:
        return inherited
    source = request.get("source")
    if source == "key" and request.get("key"):
        return f"key:{request['key']}"
    if source == "user" and request.get("username"):
        return f"user:{request['username']}"
    if source == "magic":
        return "link"
    return "event"


def job_principal_tag(job: dict[str, Any]) -> str:
    """A job's principal tag; jobs stored before the field existed derive it from their source."""
    tag = job.get("principal")
    if isinstance(tag, str) and tag:
        return tag
    return launch_principal({k: job.get(k) for k in ("source", "key", "username")})


def usable_key(record: dict[str, Any] | None, now: float) -> bool:
    """An API key record that may act: active and not expired."""
    if not record or not record.get("active"):
        return False
    expires = record.get("expires")
    return not (isinstance(expires, (int, float)) and not isinstance(expires, bool) and expires and now >= expires)


class Permits:
    def __init__(self, catalog: Catalog, now: Any) -> None:
        self._catalog = catalog
        self._lookup = CatalogLookup(catalog)
        #: the clock's ``now`` (a callable): key expiry is checked when a job's authority is read
        self._now = now

    # ---- who a job acts for

    def job_principal(self, job: dict[str, Any]) -> Identity:
        """The authority a job acts with (rule 4): what its launcher holds, never more than its event's
        own authority (``Identity.for_event``). Who wrote the job's params is not known (an editor can
        shape what an administrator's run prints), so even an administrator's job acts as its event."""
        event_authority = Identity.for_event(self._home_event(job))
        launcher = self._launcher(job_principal_tag(job))
        return event_authority if launcher is None else launcher.intersect(event_authority)

    def _launcher(self, tag: str) -> Identity | None:
        """The identity behind a principal tag (``user:NAME``, ``key:ID``, ``link``), read now: a
        deleted or disabled user, or a revoked or expired key, has no privileges left. ``event``
        (nobody launched it by hand) gives None."""
        kind, _, ident = tag.partition(":")
        roles = self._catalog["roles"]
        if kind == "key":
            record = self._catalog["api_keys"].get(ident)
            if usable_key(record, self._now()):
                assert record is not None
                return Identity.from_record("key", record, roles)
            return Identity.powerless("key", ident or "(unknown)")
        if kind == "user":
            user = self._catalog["users"].get(ident)
            if user is not None and user.get("active"):
                return Identity.from_record("user", user, roles)
            return Identity.powerless("user", ident or "(unknown)")
        if kind == "event":
            return None
        return Identity.powerless("link", "magic")

    def _home_event(self, job: dict[str, Any]) -> dict[str, Any]:
        event = self._catalog["events"].get(job.get("event"))
        if event is not None:
            return event
        return {"id": job.get("event"), "category": job.get("category"), "targets": job.get("targets")}

    # ---- events

    def event_change(self, who: Identity, current: dict[str, Any] | None, request: dict[str, Any]) -> None:
        """Adjust (locked values) and check (overrides, actions) a create (``current`` None) or an
        update request, in place; raises ``access`` errors. Privilege and scope of the change itself
        are the caller's business (the xyOps order of checks differs per endpoint)."""
        for key in EVENT_FORBIDDEN_KEYS & request.keys():  # job fields: never part of an event
            del request[key]
        merged = {**(current or {}), **request}
        same_plugin = current is not None and merged.get("plugin") == current.get("plugin")
        stored_params = _dict(current.get("params")) if current is not None else {}
        stored_triggers = _list(current.get("triggers")) if current is not None else []
        if not who.is_admin:
            plugin = self._plugin(merged.get("plugin"))
            baseline = stored_params if same_plugin else {}
            if "params" in request or not same_plugin:
                params = request["params"] if "params" in request else copy.deepcopy(stored_params)
                if isinstance(params, dict):
                    request["params"] = force_locked(plugin, params, baseline)
            if "triggers" in request or not same_plugin:
                triggers = request["triggers"] if "triggers" in request else copy.deepcopy(stored_triggers)
                if isinstance(triggers, list):
                    self._screen_triggers(plugin, triggers, stored_triggers if same_plugin else [], baseline)
                    request["triggers"] = triggers
        known = [stored_params, *_job_trigger_params(stored_triggers)]
        if isinstance(request.get("params"), dict):
            self.check_overrides(who, request["params"], known)
        if isinstance(request.get("fields"), list):  # a field's default becomes a param of every run
            defaults = {
                f["id"]: f.get("value")
                for f in request["fields"]
                if isinstance(f, dict) and isinstance(f.get("id"), str)
            }
            stored_fields = _list(current.get("fields")) if current is not None else []
            known_defaults = {
                f["id"]: f.get("value") for f in stored_fields if isinstance(f, dict) and isinstance(f.get("id"), str)
            }
            self.check_overrides(who, defaults, [*known, known_defaults])
        if isinstance(request.get("triggers"), list):
            for trigger in request["triggers"]:
                if isinstance(trigger, dict) and isinstance(trigger.get("params"), dict):
                    self.check_overrides(who, trigger["params"], known)
        if isinstance(request.get("actions"), list):
            existing = _list(current.get("actions")) if current is not None else []
            self.check_actions(who, request["actions"], event=merged, existing=existing)
        if current is None or ("targets" in request and request["targets"] != current.get("targets")):
            self.check_targets(who, merged.get("targets") or [])
        if current is not None:  # an event that also runs elsewhere is not a limited caller's to change
            self.check_targets(who, current.get("targets") or [])
        if "input" in request:
            check_input(who, request["input"])

    def _screen_triggers(
        self,
        plugin: dict[str, Any] | None,
        triggers: list[Any],
        stored: list[Any],
        baseline: dict[str, Any],
    ) -> None:
        """Locked keys in trigger params: job-param triggers keep only values already stored for the
        same key (else the key goes, so the event's value applies); ``plugin`` triggers follow their
        scheduler plugin's locked params."""
        for trigger in triggers:
            if not isinstance(trigger, dict) or not isinstance(trigger.get("params"), dict):
                continue
            params = trigger["params"]
            if trigger.get("type") == "plugin":
                gate = self._plugin(trigger.get("plugin_id"))
                previous = [
                    _dict(t.get("params"))
                    for t in stored
                    if isinstance(t, dict)
                    and t.get("type") == "plugin"
                    and t.get("plugin_id") == trigger.get("plugin_id")
                ]
                trigger["params"] = force_locked(gate, params, None, allowed=previous)
                continue
            known = [baseline, *_job_trigger_params(stored)]
            for definition in locked_definitions(plugin):
                pid = definition["id"]
                if pid in params and not _is_known(params[pid], pid, known):
                    del params[pid]

    # ---- where jobs run

    def check_targets(self, who: Identity, targets: Any) -> None:
        """Where something will run (create, retarget, run, override, chain): for a group-limited
        caller every target must select only servers of its groups (CRONWRIGHT DECISION; reading
        keeps xyOps' any-match). As in server selection, a target is a server id first (allowed when
        that server belongs to one of the caller's groups), else a group id (allowed when it is one
        of them); an id that names neither selects nothing and passes (conformance case 71)."""
        if who.is_admin or not who.groups:
            return
        listed = targets if isinstance(targets, list) else [targets]
        servers, groups = self._catalog["servers"], self._catalog["groups"]
        outside = []
        for target in listed:
            if not isinstance(target, str):
                outside.append(str(target))
                continue
            server = servers.get(target)
            if server is not None:
                if not any(g in who.groups for g in _list(server.get("groups"))):
                    outside.append(target)
            elif target in groups and target not in who.groups:
                outside.append(target)
        if outside:
            raise who.refuse_targets(outside)

    # ---- overrides

    def check_overrides(self, who: Identity, params: dict[str, Any], known: Iterable[dict[str, Any]] = ()) -> None:
        """``_xy_override_*`` params a caller supplies (rule 2); a value already stored under the same
        name in one of ``known`` is not re-checked."""
        known = list(known)
        for name, value in params.items():
            key = override_key(name)
            if key is None or not isinstance(value, str) or not value or _is_known(value, name, known):
                continue
            if who.kind == "link" and key not in LINK_OVERRIDABLE:
                raise Forbidden("access", f"A magic link cannot set {name}.")
            if key == "targets" and "{{" in value and not who.is_admin:
                # a macro would only be expanded at launch, after this check
                raise Forbidden("access", f"{name} cannot contain macros ({{{{ … }}}}) unless set by an administrator.")
            if key == "targets":
                self.check_targets(who, override_value(key, value))

    # ---- runs

    def run_request(self, who: Identity, event: dict[str, Any], request: dict[str, Any]) -> None:
        """``run_event`` overrides (before the event's params are filled in), adjusted and checked in
        place (rules 1–3)."""
        supplied = _dict(request.get("params"))
        self.check_overrides(who, supplied, [_dict(event.get("params"))])
        if not who.is_admin:
            plugin_id = request.get("plugin", event.get("plugin"))
            same_plugin = plugin_id == event.get("plugin")
            baseline = _dict(event.get("params")) if same_plugin else {}
            request["params"] = force_locked(self._plugin(plugin_id), supplied, baseline)
        self.check_targets(who, request["targets"] if "targets" in request else event.get("targets") or [])
        if js_truthy(request.get("test")) and not who.has("edit_events"):
            # a test run skips the manual-trigger and enabled checks and the category and universal
            # limits and actions: an editor's tool (docs/compatibility.md)
            who.require("edit_events")
        check_input(who, request.get("input"))
        if isinstance(request.get("actions"), list):
            self.check_actions(who, request["actions"], event=event, existing=_list(event.get("actions")))

    def link_params(
        self, event: dict[str, Any], supplied: dict[str, Any], params: dict[str, Any], job_input: Any
    ) -> None:
        """Magic links: ``supplied`` (the caller's keys) may override nothing but ``label`` and the
        ``input`` may not list files; locked params in ``params`` (the job params) keep the event's values."""
        link = Identity.powerless("link", "magic")
        self.check_overrides(link, supplied, [_dict(event.get("params"))])
        check_input(link, job_input)
        stored = _dict(event.get("params"))
        for definition in locked_definitions(self._plugin(event.get("plugin"))):
            params[definition["id"]] = copy.deepcopy(stored.get(definition["id"], definition.get("value")))

    # ---- actions

    def check_actions(
        self,
        who: Identity,
        actions: list[Any],
        *,
        event: dict[str, Any] | None = None,
        category: dict[str, Any] | None = None,
        existing: Iterable[Any] = (),
    ) -> None:
        """Rule 3 for the actions of an event (``event``) or of a category (``category``); raises
        ``access`` naming the action. Plugin actions get their locked params forced (in place)."""
        stored = [_comparable(a) for a in existing if isinstance(a, dict)]
        for index, action in enumerate(actions, start=1):
            if not isinstance(action, dict) or _comparable(action) in stored:
                continue
            try:
                self._check_action(who, action, event=event, category=category, existing=existing)
            except Forbidden as exc:
                raise Forbidden("access", f"Action #{index} ({action.get('type')}): {exc.description}") from None

    def _check_action(
        self,
        who: Identity,
        action: dict[str, Any],
        *,
        event: dict[str, Any] | None,
        category: dict[str, Any] | None,
        existing: Iterable[Any],
    ) -> None:
        kind = action.get("type")
        if kind == "run_event":
            target = self._catalog["events"].get(action.get("event_id"))
            who.require("run_jobs")
            if target is not None:
                who.require_scope(target)
                self.check_targets(who, target.get("targets") or [])
            if isinstance(action.get("params"), dict):
                self.check_overrides(who, action["params"])
        elif kind in ("delete", "disable"):
            who.require("delete_events" if kind == "delete" else "edit_events")
            if event is not None:
                who.require_scope(event)
            elif category is not None:
                who.require_category(category.get("id"))
        elif kind == "plugin" and not who.is_admin:
            previous = [
                _dict(a.get("params"))
                for a in existing
                if isinstance(a, dict) and a.get("type") == "plugin" and a.get("plugin_id") == action.get("plugin_id")
            ]
            action["params"] = force_locked(
                self._plugin(action.get("plugin_id")), _dict(action.get("params")), None, allowed=previous
            )

    # ---- what a running job hands us

    def screen_pushed(self, job: dict[str, Any], push: dict[str, Any]) -> tuple[dict[str, list[Any]], list[str]]:
        """Pushed ``actions`` and ``limits``: each is validated and (actions) authorized by the job's
        principal; refused entries are left out and described in the returned notes."""
        who = self.job_principal(job)
        home = self._home_event(job)
        kept: dict[str, list[Any]] = {}
        notes: list[str] = []
        for key in ("actions", "limits"):
            items = push.get(key)
            if not isinstance(items, list):
                continue
            kept[key] = []
            for item in items:
                if not isinstance(item, dict):
                    notes.append(f"Pushed {key[:-1]} ignored: not an object")
                    continue
                entry = copy.deepcopy(item)
                try:
                    if key == "actions":
                        validate_actions([entry], lookup=self._lookup)
                        self.check_actions(who, [entry], event=home)
                    else:
                        validate_limits([entry])
                except CwError as exc:
                    notes.append(f"Pushed {key[:-1]} refused: {exc.description}")
                    continue
                kept[key].append(entry)
        return kept, notes

    def screen_outputs(self, job: dict[str, Any], fields: dict[str, Any]) -> list[str]:
        """``update_event`` / ``delete_event`` in a job's output, authorized by the job's principal
        (as the same API call would be); refused ones are removed from ``fields``. Returns notes."""
        if not fields.get("delete_event") and not isinstance(fields.get("update_event"), dict):
            return []
        who = self.job_principal(job)
        event = self._catalog["events"].get(job.get("event"))
        notes: list[str] = []
        if fields.get("delete_event"):
            try:
                who.require("delete_events")
                if event is not None:
                    who.require_scope(event)
            except CwError as exc:
                fields.pop("delete_event")
                notes.append(f"Event deletion from job output refused: {exc.description}")
        changes = fields.get("update_event")
        if isinstance(changes, dict) and changes:
            request = copy.deepcopy(changes)
            try:
                who.require("edit_events")
                if event is not None:
                    request.pop("type", None)  # immutable, as for update_event
                    who.require_scope(event)
                    self.event_change(who, event, request)
                    who.require_scope({**event, **request})
            except CwError as exc:
                fields.pop("update_event")
                notes.append(f"Event change from job output refused: {exc.description}")
            else:
                fields["update_event"] = request
        return notes

    # ---- roles

    @staticmethod
    def role_change(who: Identity, role: dict[str, Any], current: dict[str, Any] | None = None) -> None:
        """A non-admin may create, change or delete only roles that grant no more than they hold:
        privileges they have (never ``admin``), no category or group limits (a role's scope applies
        to everyone who holds it, and disabling or deleting a limiting role would lift it), and only
        when their own scope is unlimited."""
        if who.is_admin:
            return
        for doc in (current, role):
            if doc is None:
                continue
            for priv_id, granted in _dict(doc.get("privileges")).items():
                if granted and (priv_id == "admin" or not who.has(priv_id)):
                    raise Forbidden(
                        "access",
                        f'{who.title} cannot grant the "{privilege_title(priv_id)}" privilege: '
                        + ("only an administrator may." if priv_id == "admin" else "it is not held by the caller."),
                    )
        if who.categories or who.groups:
            raise Forbidden(
                "access",
                f"{who.title} is limited to some categories or groups: only an unlimited caller may change roles.",
            )
        for doc in (current, role):
            if doc is not None and (_list(doc.get("categories")) or _list(doc.get("groups"))):
                raise Forbidden(
                    "access",
                    "Only an administrator may change a role that limits categories or groups "
                    "(its scope applies to everyone who holds it).",
                )

    # ---- helpers

    def _plugin(self, plugin_id: Any) -> dict[str, Any] | None:
        if not isinstance(plugin_id, str):
            return None
        plugin: dict[str, Any] | None = self._catalog["plugins"].get(plugin_id)
        return plugin


def check_input(who: Identity, job_input: Any) -> None:
    """A caller's ``input`` may carry ``data`` but not ``files``: file records point into the server's
    storage (other jobs' outputs, other users' uploads), so only the engine and admins set them; a
    caller's files arrive as uploads with the request."""
    if isinstance(job_input, dict) and job_input.get("files") and not who.is_admin:
        raise Forbidden("access", "input.files cannot be set by the caller: upload the files with the request.")


def force_locked(
    plugin: dict[str, Any] | None,
    params: dict[str, Any],
    baseline: dict[str, Any] | None,
    *,
    allowed: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``params`` with each locked value replaced by the ``baseline`` value (or, with ``allowed``,
    kept when some allowed dict holds the same value), else by the plugin's default."""
    out = dict(params)
    for definition in locked_definitions(plugin):
        pid = definition["id"]
        if allowed is not None:
            if pid in out and _is_known(out[pid], pid, allowed):
                continue
            out[pid] = copy.deepcopy(definition.get("value"))
        elif baseline is not None and pid in baseline:
            out[pid] = copy.deepcopy(baseline[pid])
        else:
            out[pid] = copy.deepcopy(definition.get("value"))
    return out


def _is_known(value: Any, key: str, sources: Iterable[dict[str, Any]]) -> bool:
    return any(key in source and source[key] == value for source in sources)


def _comparable(action: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in action.items() if k not in _RESULT_KEYS}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _job_trigger_params(triggers: Any) -> list[dict[str, Any]]:
    """The params of the stored triggers that become job params (every type but ``plugin``, whose
    params go to its scheduler plugin): the values a trigger may keep because they are already there.
    A ``plugin`` trigger's params never count, so they cannot launder a locked value into a launching
    trigger."""
    return [_dict(t.get("params")) for t in _list(triggers) if isinstance(t, dict) and t.get("type") != "plugin"]
