"""How stored secrets are shown to callers who may not see them (docs/security.md, "Secrets").

Web hooks carry credentials in their ``headers`` (``Authorization: Bearer …``) and URL (query
strings such as ``?token=…``, user-info ``user:password@``, and paths that are themselves the
secret, as in Slack's ``/services/T…/B…/<secret>``). Administrators and ``edit_web_hooks`` holders
(who can change them anyway) read them as stored; everyone else sees the scheme and host, with
every header value, the body template, the user-info, the path, every query value (and query
items without a value) and the fragment replaced by ``MASK``.
"""

from __future__ import annotations

from typing import Any

from cronwright.engine.identity import Identity
from cronwright.notify.report import MASK, mask_url


def present_web_hook(hook: dict[str, Any], who: Identity) -> dict[str, Any]:
    """The hook as ``who`` may see it."""
    if who.has("edit_web_hooks"):
        return hook
    shown = dict(hook)
    headers = hook.get("headers")
    if isinstance(headers, list):
        shown["headers"] = [
            {**h, "value": MASK} if isinstance(h, dict) and h.get("value") not in (None, "") else h for h in headers
        ]
    if isinstance(hook.get("url"), str):
        shown["url"] = mask_url(hook["url"])
    if hook.get("body") not in (None, ""):  # a body template often carries a token of its own
        shown["body"] = MASK
    return shown
