"""The HTTP client of the ``cronwright`` commands that talk to a server, and where its URL and API
key come from.

Each setting is taken from the first place that has it (docs/cli.md):

1. the ``--url`` / ``--api-key`` flags;
2. the ``CRONWRIGHT_URL`` / ``CRONWRIGHT_API_KEY`` environment variables;
3. the file ``$XDG_CONFIG_HOME/cronwright/cli.toml`` (``~/.config/cronwright/cli.toml``), with keys
   ``url`` and ``api_key``.

Every API failure becomes a ``CliError`` printed as ``Error: <description> (<code>)``.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from cronwright.cli.common import CliError

TIMEOUT_S = 30.0
#: the server sends a keep-alive every 15 s on a live stream; longer silence means trouble
STREAM_READ_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ClientConfig:
    url: str
    api_key: str


def config_path(environ: Mapping[str, str]) -> Path:
    """Where the CLI's own settings file is looked for."""
    base = Path(environ["XDG_CONFIG_HOME"]) if environ.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "cronwright" / "cli.toml"


def read_config_file(path: Path) -> dict[str, Any]:
    """The settings file's values (``{}`` when there is none); a broken file is an error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CliError(f"Cannot read {path}: {exc.strerror}") from None
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CliError(f"{path} is not valid TOML: {exc}") from None
    if values.get("api_key") and stat.S_IMODE(path.stat().st_mode) & 0o077:
        print(f"Warning: {path} holds an API key and other users may read it (chmod 600 {path}).", file=sys.stderr)
    return values


def resolve_config(
    url: str | None, api_key: str | None, environ: Mapping[str, str] | None = None, *, need_key: bool = True
) -> ClientConfig:
    """The server URL and API key from the flags, the environment, then the settings file."""
    env = os.environ if environ is None else environ
    path = config_path(env)
    file_values: dict[str, Any] | None = None

    def from_file(key: str) -> str | None:
        nonlocal file_values
        if file_values is None:
            file_values = read_config_file(path)
        value = file_values.get(key)
        if value is not None and not isinstance(value, str):
            raise CliError(f"{path}: {key} must be a string")
        return value

    url = url or env.get("CRONWRIGHT_URL") or from_file("url")
    if not url:
        raise CliError(f'No server URL: pass --url, set CRONWRIGHT_URL, or put url = "http://HOST:5522" in {path}.')
    if not url.startswith(("http://", "https://")):
        raise CliError(f"The server URL must start with http:// or https://: {url}")
    api_key = api_key or env.get("CRONWRIGHT_API_KEY") or from_file("api_key")
    if not api_key and need_key:
        raise CliError(f'No API key: pass --api-key, set CRONWRIGHT_API_KEY, or put api_key = "KEY" in {path}.')
    return ClientConfig(url=url.rstrip("/"), api_key=api_key or "")


def url_configured(url: str | None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether a server URL is configured anywhere (flag, environment, settings file)."""
    env = os.environ if environ is None else environ
    return bool(url or env.get("CRONWRIGHT_URL") or read_config_file(config_path(env)).get("url"))


class Client:
    """Calls ``/api/app/NAME/v1`` with the API key; answers the JSON body or raises ``CliError``."""

    def __init__(self, config: ClientConfig, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        headers = {"X-API-Key": config.api_key} if config.api_key else {}
        headers["User-Agent"] = "cronwright-cli"
        try:
            self.http = httpx.Client(base_url=config.url, headers=headers, timeout=TIMEOUT_S, transport=transport)
        except httpx.InvalidURL as exc:
            raise CliError(f"Invalid server URL {config.url!r}: {exc}") from None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.http.close()

    def call(self, name: str, params: dict[str, Any] | None = None, *, files: Any = None) -> dict[str, Any]:
        """POST the parameters (JSON, or a multipart form with ``files``); the success body."""
        path = f"/api/app/{name}/v1"
        with self._errors():
            if files:
                data = {"json": json.dumps(params or {})}
                response = self.http.post(path, data=data, files=files, timeout=None)
            else:
                response = self.http.post(path, json=params or {})
        return self._body(response)

    def get_text(self, name: str, params: dict[str, Any]) -> tuple[int, str]:
        """GET an endpoint answering text (logs): (HTTP status, text)."""
        with self._errors():
            response = self.http.get(f"/api/app/{name}/v1", params=params)
        return response.status_code, response.text

    def get_path(self, path: str) -> httpx.Response:
        with self._errors():
            return self.http.get(path)

    def stream_events(self, name: str, params: dict[str, Any]) -> Iterator[tuple[str, Any]]:
        """The server-sent events of ``name`` as (event, parsed data); ``("", None)`` for keep-alives."""
        timeout = httpx.Timeout(TIMEOUT_S, read=STREAM_READ_TIMEOUT_S)
        with self._errors(), self.http.stream("GET", f"/api/app/{name}/v1", params=params, timeout=timeout) as response:
            if response.status_code != 200 or not response.headers.get("content-type", "").startswith(
                "text/event-stream"
            ):
                response.read()
                self._body(response)
                raise CliError(f"Unexpected answer from {name}: HTTP {response.status_code}")
            kind, data = "", []
            for line in response.iter_lines():
                if line.startswith(":"):
                    yield "", None
                elif line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())
                elif not line and kind:
                    yield kind, json.loads("\n".join(data)) if data else None
                    kind, data = "", []

    def _body(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise CliError(f"Unexpected answer from the server (HTTP {response.status_code}, not JSON)") from None
        if not isinstance(body, dict):
            raise CliError(f"Unexpected answer from the server (HTTP {response.status_code})")
        if body.get("code") != 0:
            code = str(body.get("code"))
            raise CliError(f"{body.get('description') or 'Request failed'} ({code})", api_code=code)
        return body

    def _errors(self) -> _HttpErrors:
        return _HttpErrors(self.config.url)


class _HttpErrors:
    """Turns transport failures into ``CliError`` with the server URL."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if isinstance(exc, httpx.ConnectError):
            raise CliError(f"Cannot connect to {self.url}: {_reason(exc)}") from None
        if isinstance(exc, httpx.TimeoutException):
            raise CliError(f"{self.url} did not answer in time ({type(exc).__name__})") from None
        if isinstance(exc, httpx.HTTPError):
            raise CliError(f"Request to {self.url} failed: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return text or type(exc).__name__
