"""Job parameter macro expansion at launch (jobs.md §9).

Each string param containing ``{{ … }}`` is rendered against the launch context, where
``context["params"]`` is the params object being expanded: keys are processed in order (the
event's ``fields`` ids first, then the remaining keys), so a later param sees earlier ones already
expanded. Passes repeat while any ``{{ … }}`` remains, at most ``max_passes`` times. Values that are
not strings (numbers, nested objects) are left alone. Undefined values render as "".
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any, Final

from .errors import MAX_STEPS, MAX_STRING_CHARS, Budget, ExprError
from .interpreter import HostFunctions
from .template import ErrorMode, Template, build_template, has_macro

MAX_EXPAND_STEPS: Final = 10 * MAX_STEPS
"""Evaluation steps for one whole expansion (each single render is still capped at ``MAX_STEPS``)."""

MAX_EXPAND_CHARS: Final = 16 * MAX_STRING_CHARS
"""Characters one expansion may render in total, across all params and passes."""

_CACHEABLE_CHARS: Final = 10_000


@functools.lru_cache(maxsize=512)
def _cached_template(text: str) -> Template:
    return build_template(text, strict=False)


def _template(text: str) -> Template:
    return _cached_template(text) if len(text) <= _CACHEABLE_CHARS else build_template(text, strict=False)


def expand_params(
    params: Mapping[str, Any],
    *,
    order: Iterable[str],
    context: Mapping[str, Any],
    max_passes: int = 32,
    errors: ErrorMode = "raise",
    functions: HostFunctions | None = None,
) -> dict[str, Any]:
    """Return a copy of ``params`` with string values macro-expanded; the input is not modified.

    A syntax or evaluation error raises ``ExprError("Param 'x': <message>")``; with
    ``errors="inline"`` the macro renders as ``(ERROR: <message>)`` instead (xyOps's behaviour).
    """
    result = dict(params)
    keys = list(dict.fromkeys([key for key in order if key in result] + list(result)))
    scope = dict(context)
    scope["params"] = result
    steps_left = MAX_EXPAND_STEPS
    chars_left = MAX_EXPAND_CHARS
    for _ in range(max_passes):
        for key in keys:
            value = result[key]
            if not (isinstance(value, str) and has_macro(value)):
                continue
            if steps_left <= 0:
                raise ExprError(
                    f"Param '{key}': Parameter expansion is too complex (more than {MAX_EXPAND_STEPS:,} steps)"
                )
            budget = Budget(min(MAX_STEPS, steps_left))
            try:
                text = _template(value).render_with(scope, budget, undefined="", errors=errors, functions=functions)
            except ExprError as exc:
                raise ExprError(f"Param '{key}': {exc.message}", exc.position) from None
            steps_left -= budget.used
            chars_left -= len(text)
            if chars_left < 0:
                raise ExprError(
                    f"Param '{key}': Expanded parameters are too long (more than {MAX_EXPAND_CHARS:,} characters)"
                )
            result[key] = text
        if not any(isinstance(value, str) and has_macro(value) for value in result.values()):
            break
    return result
