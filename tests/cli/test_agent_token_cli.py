"""`cronwright agent token create|list|revoke` against a real server."""

from __future__ import annotations

import re

from tests.cli.conftest import Cli


def test_create_list_and_revoke_an_install_token(cli: Cli) -> None:
    created = cli("agent", "token", "create", "--title", "cli token", "--expires", "3600")
    assert created.returncode == 0, created.stderr
    token = re.search(r"\b([0-9a-f]{64})\b", created.stdout)
    assert token and "cronwright agent --conductor" in created.stdout
    listed = cli("agent", "token", "list")
    assert listed.returncode == 0 and "title=cli token" in listed.stdout and token.group(1) not in listed.stdout
    token_id = next(line.split()[0] for line in listed.stdout.splitlines() if "title=cli token" in line)
    revoked = cli("agent", "token", "revoke", token_id)
    assert revoked.returncode == 0 and f"Revoked install token {token_id}" in revoked.stdout
    assert "title=cli token" not in cli("agent", "token", "list").stdout
    again = cli("agent", "token", "revoke", token_id)
    assert again.returncode != 0 and "not found" in (again.stderr + again.stdout)
