"""Settings: precedence of sources and refusal of unusable values."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from cronwright.config import OTHER_ENV_VARS, ConfigError, Settings, load_settings


def test_defaults() -> None:
    """Without any source the server listens on 127.0.0.1:5522 with SQLite under ./data."""
    settings = load_settings(environ={})
    assert (settings.host, settings.port, settings.data_dir) == ("127.0.0.1", 5522, Path("data"))
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith("data/cronwright.db")


def test_precedence(tmp_path: Path) -> None:
    """Options beat environment variables, which beat the config file."""
    config = tmp_path / "c.toml"
    config.write_text('port = 1111\nhost = "127.0.0.2"\nlog_level = "debug"\n')
    env = {"CRONWRIGHT_PORT": "2222", "CRONWRIGHT_HOST": "127.0.0.3"}
    settings = load_settings({"port": 3333}, environ=env, config_file=config)
    assert (settings.port, settings.host, settings.log_level) == (3333, "127.0.0.3", "debug")


def test_config_file_in_data_dir(tmp_path: Path) -> None:
    """`<data_dir>/config.toml` is read when present."""
    (tmp_path / "config.toml").write_text("max_body_bytes = 4096\n")
    assert load_settings({"data_dir": str(tmp_path)}, environ={}).max_body_bytes == 4096


@pytest.mark.parametrize(
    ("overrides", "env", "message"),
    [
        ({}, {"CRONWRIGHT_PORT": "eighty"}, "Invalid value for setting 'port'"),
        ({"port": 70000}, {}, "Invalid port"),
        ({"db_url": "mysql://x"}, {}, "Unsupported database URL"),
        ({}, {"CRONWRIGHT_TZ": "Mars/Base"}, "Unknown time zone"),
        ({}, {"CRONWRIGHT_MAX_BODY_BYTES": "10"}, "max_body_bytes"),
        ({}, {"CRONWRIGHT_CONFIG": "/nonexistent/c.toml"}, "Config file not found"),
    ],
)
def test_bad_values(overrides: dict[str, object], env: dict[str, str], message: str) -> None:
    """Unusable settings raise ``ConfigError`` naming the problem."""
    with pytest.raises(ConfigError, match=message):
        load_settings(overrides, environ=env)


def test_bad_toml(tmp_path: Path) -> None:
    """A config file that is not TOML is reported with its path."""
    config = tmp_path / "c.toml"
    config.write_text("port = = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(environ={}, config_file=config)


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ("prot = 1\n", {}, "Unknown setting 'prot' in config file .*: did you mean port\\?"),
        ("max_body = 4096\n", {}, "Unknown setting 'max_body' .*: did you mean max_body_bytes\\?"),
        ("", {"CRONWRIGHT_PROT": "1"}, "Unknown environment variable CRONWRIGHT_PROT: did you mean CRONWRIGHT_PORT\\?"),
        ("", {"CRONWRIGHT_ADMIN_PASWORD": "x"}, "did you mean CRONWRIGHT_ADMIN_PASSWORD\\?"),
        ("", {"CRONWRIGHT_QWXZ": "1"}, "Unknown environment variable CRONWRIGHT_QWXZ\n"),
    ],
)
def test_unknown_names(tmp_path: Path, toml: str, env: dict[str, str], message: str) -> None:
    """A config key or ``CRONWRIGHT_*`` variable that names no setting is refused, with the closest name."""
    config = tmp_path / "c.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=env, config_file=config)


def test_known_names_pass() -> None:
    """Every setting's variable, and the variables that are not settings (first start, CLI, tests), pass."""
    defaults = Settings()
    env = {
        f"CRONWRIGHT_{f.name.upper()}": json.dumps(value) if isinstance(value, dict) else str(value)
        for f in dataclasses.fields(Settings)
        for value in [getattr(defaults, f.name)]
    }
    env.update(dict.fromkeys(OTHER_ENV_VARS - {"CRONWRIGHT_CONFIG"}, "x"))
    assert load_settings(environ=env) == defaults
    assert {"CRONWRIGHT_URL", "CRONWRIGHT_API_KEY", "CRONWRIGHT_ADMIN_KEY", "CRONWRIGHT_TEST_PG"} <= OTHER_ENV_VARS
