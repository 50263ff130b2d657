"""``cronwright apikey ...``, where the CLI finds its server and key, and how it reports mistakes."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from tests.cli.conftest import Cli
from tests.cli.helpers import cli_env, run_cli
from tests.support.server import ADMIN_KEY, Api, Server


def test_apikey_create_refuses_a_data_dir_without_a_database(tmp_path: Path) -> None:
    """Direct mode refuses a data directory that holds no database (and creates nothing there);
    ``--init`` creates the database and the key."""
    data_dir = tmp_path / "empty"
    env = cli_env(tmp_path / "config", key=None)
    refused = run_cli("apikey", "create", "--title", "ops", "--data-dir", str(data_dir), env=env)
    assert refused.returncode == 1
    assert "No Cronwright database" in refused.stderr and "--init" in refused.stderr
    assert not data_dir.exists()
    created = run_cli("apikey", "create", "--title", "ops", "--data-dir", str(data_dir), "--init", env=env)
    assert created.returncode == 0, created.stderr
    assert "Plain key (shown only now): " in created.stdout and (data_dir / "cronwright.db").is_file()


def test_apikey_create_on_the_servers_database_works_against_the_server(cli_server: Server, tmp_path: Path) -> None:
    """A key written straight into the running server's database is accepted by that server."""
    env = cli_env(tmp_path / "config", key=None)
    args = ("apikey", "create", "--title", "direct", "--privilege", "admin", "--data-dir", str(cli_server.data_dir))
    result = run_cli(*args, "--json", env=env)
    assert result.returncode == 0, result.stderr
    plain = json.loads(result.stdout)["plain_key"]
    assert cli_server.client(key=plain).ok("get_events")["code"] == 0


def test_apikey_create_list_revoke_through_the_api(cli: Cli, admin: Api) -> None:
    """With a URL configured, ``create`` goes through the API; the key works, is listed, and stops
    working once revoked."""
    created = json.loads(cli("apikey", "create", "--title", "via api", "--privilege", "run_jobs", "--json").stdout)
    key_id, plain = created["api_key"]["id"], created["plain_key"]
    client = admin.with_key(plain)
    assert client.ok("get_events")["code"] == 0
    listed = cli("apikey", "list")
    assert listed.returncode == 0 and key_id in listed.stdout and "run_jobs" in listed.stdout
    assert cli("apikey", "revoke", key_id).returncode == 0
    assert client.error("get_events")[0] == 403


def test_typos_get_did_you_mean(cli: Cli) -> None:
    """Misspelt privileges, roles, commands and options are usage errors (exit 2) with a suggestion."""
    privilege = cli("apikey", "create", "--title", "t", "--privilege", "run_job")
    assert privilege.returncode == 2 and "Did you mean 'run_jobs'" in privilege.stderr
    role = cli("apikey", "create", "--title", "t", "--role", "admn")
    assert role.returncode == 2 and "Unknown role 'admn'" in role.stderr
    command = cli("evnts", "list")
    assert command.returncode == 2 and "Did you mean" in command.stderr and "'events'" in command.stderr
    option = cli("events", "run", "x", "--wiat")
    assert option.returncode == 2 and "--wait" in option.stderr


def test_missing_url_or_key_is_a_clear_error(tmp_path: Path) -> None:
    """Without a URL (or key) anywhere, the command says where to put one and exits 1."""
    no_url = run_cli("events", "list", env=cli_env(tmp_path / "config", key=None))
    assert no_url.returncode == 1
    assert "No server URL" in no_url.stderr and "CRONWRIGHT_URL" in no_url.stderr and "cli.toml" in no_url.stderr
    no_key = run_cli("events", "list", env=cli_env(tmp_path / "config", url="http://127.0.0.1:9", key=None))
    assert no_key.returncode == 1 and "No API key" in no_key.stderr


def test_malformed_url_is_a_clear_error(tmp_path: Path) -> None:
    """A URL httpx cannot use (a bad port) is one line naming it, never a traceback."""
    result = run_cli("events", "list", env=cli_env(tmp_path / "config", url="http://127.0.0.1:abc"))
    assert result.returncode == 1 and "Invalid server URL 'http://127.0.0.1:abc'" in result.stderr


def test_unsupported_database_url_hides_its_password(tmp_path: Path) -> None:
    """`apikey create --db-url mysql://u:PASSWORD@…` is refused without echoing the password."""
    result = run_cli("apikey", "create", "--title", "t", "--db-url", "mysql://u:S3CRETPW@db/x", env=cli_env(tmp_path))
    assert result.returncode != 0 and "Unsupported database URL" in result.stderr
    assert "S3CRETPW" not in result.stderr + result.stdout and "u:***@" in result.stderr


def test_settings_precedence_flag_then_environment_then_file(cli_server: Server, tmp_path: Path) -> None:
    """The config file is used when nothing else is set; the environment overrides it; a flag
    overrides both."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"  # nobody listens once closed
    config_home = tmp_path / "config"
    (config_home / "cronwright").mkdir(parents=True)
    config = config_home / "cronwright" / "cli.toml"
    config.write_text(f'url = "{cli_server.url}"\napi_key = "{ADMIN_KEY}"\n')
    config.chmod(0o600)
    from_file = run_cli("events", "list", "--json", env=cli_env(config_home, key=None))
    assert from_file.returncode == 0, from_file.stderr
    env_wins = run_cli("events", "list", env=cli_env(config_home, url=dead, key=None))
    assert env_wins.returncode == 1 and f"Cannot connect to {dead}" in env_wins.stderr
    flag_wins = run_cli("events", "list", "--url", cli_server.url, env=cli_env(config_home, url=dead, key=None))
    assert flag_wins.returncode == 0, flag_wins.stderr
    bad_key = run_cli("events", "list", "--api-key", "wrong", env=cli_env(config_home, key=None))
    assert bad_key.returncode == 1 and bad_key.stderr.startswith("Error: ")
