"""Notifications and action side effects: e-mail, web hooks, message text, action plugins.

The engine calls these with plain dicts (the hook data of limits-actions.md §4.2) and gets an
:class:`Outcome` back; nothing here raises for a failed delivery, reads the store or knows HTTP
routes. Modules:

- ``text``: :data:`TEXT_TEMPLATES` and :func:`message_text` (the ``{{text}}`` of a hook)
- ``email_templates`` / ``email_render`` / ``markdown``: :data:`STOCK_EMAILS`, :func:`render_email`
- ``smtp``: :class:`SmtpSettings`, :func:`send_email`
- ``hook_rules``: :func:`validate_web_hook`, :data:`WEB_HOOK_DEFAULTS`
- ``webhook`` / ``report``: :func:`fire_web_hook` and its markdown report
- ``plugin``: :func:`run_action_plugin`
"""

from .email_render import RenderedEmail, render_email
from .email_templates import STOCK_EMAILS, stock_email_key
from .hook_rules import WEB_HOOK_DEFAULTS, validate_web_hook
from .markdown import markdown_to_html
from .outcome import Outcome
from .plugin import run_action_plugin
from .smtp import SmtpSettings, send_email
from .text import TEXT_TEMPLATES, message_text, text_template_key
from .webhook import fire_web_hook, prepare_request

__all__ = [
    "STOCK_EMAILS",
    "TEXT_TEMPLATES",
    "WEB_HOOK_DEFAULTS",
    "Outcome",
    "RenderedEmail",
    "SmtpSettings",
    "fire_web_hook",
    "markdown_to_html",
    "message_text",
    "prepare_request",
    "render_email",
    "run_action_plugin",
    "send_email",
    "stock_email_key",
    "text_template_key",
    "validate_web_hook",
]
