"""``{{ expression }}`` templates: job parameters, web hook URLs/headers/bodies, email text.

A macro is ``{{`` + at least one character on the same line + the first following ``}}``, exactly
as xyOps finds them with ``/\\{\\{(.+?)\\}\\}/g``; anything else is literal text (an unclosed
``{{`` stays as typed). The text between the braces is trimmed and compiled as an expression.
Rendering writes each value in its JavaScript text form: strings as they are, ``true``/``false``,
numbers as JavaScript prints them (``1.0`` → "1", ``1e21`` → "1e+21"), arrays and objects as
compact JSON, and ``undefined``/``null`` as the caller's ``undefined`` text ("" for job params,
"n/a" in emails, "N/A" in URLs). One render is one pass: a value that itself contains ``{{ }}``
is not expanded again (see :func:`~.params.expand_params` for the repeated passes of job params).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from .convert import stringify
from .errors import MAX_STRING_CHARS, Budget, ExprError, show
from .interpreter import Expression, HostFunctions
from .values import Kind, format_number, kind_of

ErrorMode = Literal["raise", "inline"]
_LINE_END: Final = re.compile("[\n\r\u2028\u2029]")


@dataclass(frozen=True, slots=True)
class _Macro:
    """One ``{{ … }}``: its text as written, the trimmed source, and the compiled form or the error."""

    text: str
    source: str
    expression: Expression | None
    error: ExprError | None


def find_macros(text: str) -> Iterator[tuple[int, int]]:
    """Yield ``(start, end)`` of each macro in ``text`` in order (linear time, no regex backtracking)."""
    pos = 0
    close = line_end = -1
    while (start := text.find("{{", pos)) >= 0:
        if close < start + 3:
            close = text.find("}}", start + 3)
            if close < 0:
                return
        if line_end < start + 2:
            found = _LINE_END.search(text, start + 2)
            line_end = found.start() if found else len(text)
        if line_end < close:
            pos = line_end + 1
            continue
        yield start, close + 2
        pos = close + 2


def has_macro(text: str) -> bool:
    """True when ``text`` contains at least one ``{{ … }}`` macro."""
    return next(find_macros(text), None) is not None


def render_value(value: Any, budget: Budget, undefined: str = "") -> str:
    """A value's text in a rendered template (``undefined``/``null`` → ``undefined``)."""
    kind = kind_of(value)
    if kind is Kind.STRING:
        return str(value)
    if kind is Kind.NUMBER:
        return format_number(value)
    if kind is Kind.BOOLEAN:
        return "true" if value else "false"
    if kind >= Kind.ARRAY:
        return str(stringify(value, budget))
    return undefined


class Template:
    """A compiled template: literal text interleaved with compiled macros."""

    __slots__ = ("_parts", "text")

    def __init__(self, text: str, parts: tuple[str | _Macro, ...]) -> None:
        self.text = text
        self._parts = parts

    def __repr__(self) -> str:
        return f"Template({show(self.text, 60)!r})"

    @property
    def has_macros(self) -> bool:
        """True when the text contains at least one ``{{ … }}``."""
        return any(isinstance(part, _Macro) for part in self._parts)

    @property
    def macros(self) -> tuple[str, ...]:
        """The trimmed source of each macro, in order."""
        return tuple(part.source for part in self._parts if isinstance(part, _Macro))

    def render(
        self,
        context: Mapping[str, Any],
        *,
        undefined: str = "",
        errors: ErrorMode = "raise",
        functions: HostFunctions | None = None,
    ) -> str:
        """Render against ``context``; ``errors="inline"`` writes ``(ERROR: message)`` instead of raising."""
        return self.render_with(context, Budget(), undefined=undefined, errors=errors, functions=functions)

    def render_with(
        self,
        context: Mapping[str, Any],
        budget: Budget,
        *,
        undefined: str = "",
        errors: ErrorMode = "raise",
        functions: HostFunctions | None = None,
    ) -> str:
        """:meth:`render` with an explicit step budget shared by all macros."""
        out: list[str] = []
        size = 0
        for part in self._parts:
            if isinstance(part, str):
                text = part
            else:
                try:
                    if part.expression is None:
                        raise part.error or ExprError("Invalid macro")
                    text = render_value(part.expression.run(context, budget, functions), budget, undefined)
                except ExprError as exc:
                    if errors == "raise":
                        prefix = "Invalid macro" if part.expression is None else "Error in macro"
                        raise ExprError(f"{prefix} {show(part.text, 60)}: {exc.message}", exc.position) from None
                    text = f"(ERROR: {exc.message})"
            size += len(text)
            if size > MAX_STRING_CHARS:
                raise ExprError(f"Rendered text is too long (more than {MAX_STRING_CHARS:,} characters)")
            out.append(text)
        return "".join(out)


def build_template(text: str, *, strict: bool) -> Template:
    """Split and compile ``text``; with ``strict`` the first bad macro raises, else it is kept as an error."""
    if not isinstance(text, str):
        raise ExprError("A template must be a string")
    if len(text) > MAX_STRING_CHARS:
        raise ExprError(f"Template is too long (more than {MAX_STRING_CHARS:,} characters)")
    parts: list[str | _Macro] = []
    pos = 0
    for start, end in find_macros(text):
        if start > pos:
            parts.append(text[pos:start])
        macro_text = text[start:end]
        source = macro_text[2:-2].strip()
        try:
            parts.append(_Macro(macro_text, source, Expression(source), None))
        except ExprError as exc:
            if strict:
                raise ExprError(f"Invalid macro {show(macro_text, 60)}: {exc.message}", exc.position) from None
            parts.append(_Macro(macro_text, source, None, exc))
        pos = end
    if pos < len(text):
        parts.append(text[pos:])
    return Template(text, tuple(parts))
