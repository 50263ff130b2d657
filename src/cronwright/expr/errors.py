"""The single error type of the expression package, and the budget that bounds every evaluation.

Everything in :mod:`cronwright.expr` reports failure by raising :class:`ExprError` with a message
written for the person who typed the expression ("Unexpected token ')' at position 7",
"Unknown function: foo"). The limits below are what make hostile input harmless: sources are
short, trees are shallow, evaluations count their steps and strings have a maximum size.
"""

from __future__ import annotations

MAX_SOURCE_CHARS = 10_000
"""Longest expression source accepted by the parser."""

MAX_DEPTH = 64
"""Deepest nesting of the syntax tree (and of the parser's own recursion)."""

MAX_STEPS = 100_000
"""Evaluation steps (node visits plus data work done by operators and functions) per evaluation."""

MAX_STRING_CHARS = 1_000_000
"""Longest string an evaluation or a template rendering may produce."""

MAX_REGEX_CHARS = 500
"""Longest regular expression accepted by ``match()``."""


class ExprError(Exception):
    """A syntax or evaluation error in an expression or template; ``str(err)`` is a readable sentence."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


class Budget:
    """A countdown of evaluation steps; :meth:`charge` raises once it is spent."""

    __slots__ = ("limit", "steps")

    def __init__(self, limit: int = MAX_STEPS) -> None:
        self.limit = limit
        self.steps = limit

    @property
    def used(self) -> int:
        """Steps consumed so far."""
        return self.limit - self.steps

    def charge(self, amount: int = 1) -> None:
        """Consume ``amount`` steps, raising "Expression too complex" when none are left."""
        self.steps -= amount
        if self.steps < 0:
            raise ExprError(f"Expression too complex (more than {self.limit:,} evaluation steps)")


def check_length(text: str, what: str = "String result") -> str:
    """Return ``text`` unchanged, or raise when it exceeds :data:`MAX_STRING_CHARS`."""
    if len(text) > MAX_STRING_CHARS:
        raise ExprError(f"{what} is too long (more than {MAX_STRING_CHARS:,} characters)")
    return text


def show(text: str, limit: int = 40) -> str:
    """A short, printable excerpt of ``text`` for error messages."""
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in shown)
