"""The safe evaluator for xyOps expressions and ``{{ }}`` macros.

A small JEXL dialect evaluated in pure Python over JSON values only: no ``eval``/``exec``, no
attribute access on Python objects, bounded source length, nesting depth, evaluation steps and
string sizes. Any problem with an expression or template surfaces as :class:`ExprError`.

    >>> evaluate("cpu.cores >= 2 && hostname in ['a', 'b']", {"cpu": {"cores": 4}, "hostname": "a"})
    True
    >>> compile_template("{{ params.a }}-{{ id }}").render({"id": "jabc", "params": {"a": "x"}})
    'x-jabc'

Public API: :func:`compile_expression` / :class:`Expression`, :func:`evaluate` (cached),
:func:`compile_template` / :class:`Template`, :func:`expand_params` (job params at launch),
:func:`is_truthy`, :func:`render_value`, :data:`UNDEFINED` and :class:`ExprError`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from .errors import MAX_DEPTH, MAX_REGEX_CHARS, MAX_SOURCE_CHARS, MAX_STEPS, MAX_STRING_CHARS, Budget, ExprError
from .functions import BUILTINS
from .interpreter import Expression, HostFunctions
from .params import expand_params
from .template import Template, build_template, has_macro
from .template import render_value as _render_value
from .values import UNDEFINED, is_truthy

__all__ = [
    "BUILTINS",
    "MAX_DEPTH",
    "MAX_REGEX_CHARS",
    "MAX_SOURCE_CHARS",
    "MAX_STEPS",
    "MAX_STRING_CHARS",
    "UNDEFINED",
    "ExprError",
    "Expression",
    "HostFunctions",
    "Template",
    "compile_expression",
    "compile_template",
    "evaluate",
    "expand_params",
    "has_macro",
    "is_truthy",
    "render_value",
]


def compile_expression(source: str) -> Expression:
    """Parse ``source`` once; raises :class:`ExprError` on a syntax error."""
    return Expression(source)


@functools.lru_cache(maxsize=512)
def _cached_expression(source: str) -> Expression:
    return Expression(source)


def evaluate(source: str, context: Mapping[str, Any], *, functions: HostFunctions | None = None) -> Any:
    """Compile (through an LRU cache) and evaluate ``source`` against ``context``."""
    expression = _cached_expression(source) if isinstance(source, str) else Expression(source)
    return expression.evaluate(context, functions=functions)


@functools.lru_cache(maxsize=256)
def _cached_template(text: str) -> Template:
    return build_template(text, strict=True)


def compile_template(text: str) -> Template:
    """Split ``text`` into literal parts and ``{{ expr }}`` macros; a bad macro raises :class:`ExprError` naming it."""
    if isinstance(text, str) and len(text) <= 10_000:
        return _cached_template(text)
    return build_template(text, strict=True)


def render_value(value: Any, *, undefined: str = "") -> str:
    """The text a value renders as inside a template (``undefined``/``null`` → ``undefined``)."""
    return _render_value(value, Budget(), undefined)
