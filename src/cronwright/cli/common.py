"""What every client command shares: the error type and exit codes, did-you-mean suggestions, and
the ``--url`` / ``--api-key`` / ``--json`` options.

Exit codes (docs/cli.md): 0 success; 1 an error (the API refused, the server cannot be reached,
bad configuration); 2 a usage error (unknown command, option or value); with ``events run --wait``
also 3 the job failed, 4 it ended with a warning, 5 it was aborted, 6 waiting timed out.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from cronwright.cli.client import Client

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_JOB_FAILED = 3
EXIT_JOB_WARNING = 4
EXIT_JOB_ABORTED = 5
EXIT_TIMEOUT = 6


class CliError(click.ClickException):
    """A failure shown as ``Error: <message>`` (no traceback) with a chosen exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR, *, api_code: str | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click reads this per instance; its ClassVar is the default
        self.api_code = api_code


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` for the closest choice (difflib), or ``""``."""
    close = difflib.get_close_matches(value, list(choices), n=3, cutoff=0.6)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"


def check_choice(kind: str, value: str, choices: Iterable[str], param_hint: str | None = None) -> None:
    """A ``click.BadParameter`` (exit 2) naming the closest choices when ``value`` is not one of them."""
    options = list(choices)
    if value in options:
        return
    raise click.BadParameter(f"Unknown {kind} {value!r}.{did_you_mean(value, options)}", param_hint=param_hint)


@dataclass
class Remote:
    """A command's connection to the server and how it should print."""

    client: Client
    as_json: bool


def remote_command(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--url``, ``--api-key`` and ``--json``; the command receives ``remote`` (a ``Remote``)."""

    @click.option("--json", "as_json", is_flag=True, help="Print the API's JSON answer (for scripts).")
    @click.option("--api-key", "api_key", metavar="KEY", help="API key (else CRONWRIGHT_API_KEY, else cli.toml).")
    @click.option("--url", metavar="URL", help="Server URL (else CRONWRIGHT_URL, else cli.toml).")
    @functools.wraps(func)
    def wrapper(url: str | None, api_key: str | None, as_json: bool, **kwargs: Any) -> Any:
        from cronwright.cli.client import Client, resolve_config

        with Client(resolve_config(url, api_key)) as client:
            return func(Remote(client, as_json), **kwargs)

    return wrapper


def parse_pairs(pairs: Iterable[str], option: str) -> dict[str, str]:
    """``k=v`` items (``--param``) as a dict; anything without ``=`` is a usage error."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint=option)
        out[key.strip()] = value
    return out
