"""The result of one action or notification, as it is written into the job's ``actions[]`` entry."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Outcome:
    """``code`` 0 on success, else a short error code (``"email"``, ``"webhook"``, ``"plugin"`` …).

    ``description`` is a one-line summary for people and is never empty (an empty one is replaced
    by a generic sentence); ``details`` is an optional markdown report; ``elapsed_ms`` is how long
    the work took.
    """

    code: int | str
    description: str
    details: str = ""
    elapsed_ms: float = 0.0

    def __post_init__(self) -> None:
        if not self.description:
            self.description = "Success" if self.code == 0 else f"Failed (code {self.code})"

    @property
    def ok(self) -> bool:
        """True when ``code`` is 0."""
        return self.code == 0
