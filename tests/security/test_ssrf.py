"""Issue 8 point 13: web hooks reach only the networks the operator allows (SSRF), redirects included.

Only loopback traffic: 127.0.0.0/8 gives us several distinct addresses (receivers on 127.0.0.1 and
127.0.0.2, one on ::1), and every "attack" is a request that must NOT reach a receiver.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cronwright.config import ConfigError, load_settings
from cronwright.notify import Outcome, fire_web_hook
from cronwright.notify.netpolicy import NetworkPolicy, web_hook_client
from tests.api.helpers import create_event, run_wait, uid
from tests.conftest import StartServer
from tests.support.server import Api, Server
from tests.support.sinks import HttpReceiver

DENIED_ALL_INTERNAL = "loopback, private, link-local"


# ---- local receivers


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    """A recording HTTP server on 127.0.0.1."""
    with HttpReceiver("127.0.0.1") as server:
        yield server


@pytest.fixture
def other_receiver() -> Iterator[HttpReceiver]:
    """A recording HTTP server on 127.0.0.2 (another loopback address)."""
    with HttpReceiver("127.0.0.2") as server:
        yield server


@pytest.fixture
def v6_receiver() -> Iterator[HttpReceiver]:
    """A recording HTTP server on ::1 (skipped when the host has no IPv6 loopback)."""
    try:
        server = HttpReceiver("::1")
    except OSError:
        pytest.skip("no IPv6 loopback")
    with server:
        yield server


@pytest.fixture(scope="module")
def deny_server(server_factory: StartServer) -> Server:
    """A server whose web hooks may not reach loopback, private or link-local networks."""
    return server_factory("sqlite", env={"CRONWRIGHT_WEB_HOOK_DENY_NETWORKS": DENIED_ALL_INTERNAL})


@pytest.fixture(scope="module")
def allow_server(server_factory: StartServer) -> Server:
    """A server whose web hooks may reach 127.0.0.1 and nothing else."""
    return server_factory("sqlite", env={"CRONWRIGHT_WEB_HOOK_ALLOW_NETWORKS": "127.0.0.1/32"})


def try_hook(api: Api, url: str, **fields: Any) -> dict[str, Any]:
    """``test_web_hook`` with a minimal definition; returns its ``result``."""
    body = {"title": "Probe", "method": "POST", "url": url, "body": "probe", "timeout": 5, **fields}
    result: dict[str, Any] = api.ok("test_web_hook", body)["result"]
    return result


def job_with_hook(api: Api, url: str, **fields: Any) -> dict[str, Any]:
    """Create a web hook for ``url`` and run a job whose success action fires it; returns the job."""
    hook_id = uid("hook")
    api.ok("create_web_hook", {"id": hook_id, "title": "Probe", "method": "POST", "url": url, "timeout": 5, **fields})
    actions = [{"enabled": True, "condition": "success", "type": "web_hook", "web_hook": hook_id}]
    return run_wait(api, create_event(api, params={"script": "#!/bin/sh\necho ok\n"}, actions=actions)["id"])


# ---- the policy itself (pure)


@pytest.mark.parametrize(
    ("allow", "deny", "address", "expected"),
    [
        ("", "", "127.0.0.1", None),
        ("", "loopback", "127.0.0.1", "127.0.0.1 is in a denied network: loopback"),
        ("", "loopback", "127.255.0.9", "127.255.0.9 is in a denied network: loopback"),
        ("", "loopback", "0.0.0.0", "0.0.0.0 is in a denied network: loopback"),
        ("", "loopback", "::1", "::1 is in a denied network: loopback"),
        ("", "loopback", "::", ":: is in a denied network: loopback"),
        ("", "loopback", "::ffff:127.0.0.1", "::ffff:127.0.0.1 is in a denied network: loopback"),
        ("", "loopback", "64:ff9b::7f00:1", "64:ff9b::7f00:1 is in a denied network: loopback"),
        ("", "loopback", "2002:7f00:1::", "2002:7f00:1:: is in a denied network: loopback"),
        ("", "loopback", "::127.0.0.1", "::127.0.0.1 is in a denied network: loopback"),
        ("", "private", "10.1.2.3", "10.1.2.3 is in a denied network: private"),
        ("", "private", "172.31.255.255", "172.31.255.255 is in a denied network: private"),
        ("", "private", "192.168.0.1", "192.168.0.1 is in a denied network: private"),
        ("", "private", "100.64.0.1", "100.64.0.1 is in a denied network: private"),
        ("", "private", "fd12::1", "fd12::1 is in a denied network: private"),
        ("", "private", "::ffff:10.0.0.1", "::ffff:10.0.0.1 is in a denied network: private"),
        ("", "private", "172.32.0.1", None),
        ("", "link-local", "169.254.169.254", "169.254.169.254 is in a denied network: link-local"),
        ("", "link_local", "fe80::1%1", "fe80::1%1 is in a denied network: link-local"),
        ("", "multicast", "224.0.0.1", "224.0.0.1 is in a denied network: multicast"),
        ("", "internal", "240.0.0.1", "240.0.0.1 is in a denied network: internal"),
        ("", "internal", "192.0.2.1", "192.0.2.1 is in a denied network: internal"),
        ("", "internal", "224.0.0.1", "224.0.0.1 is in a denied network: internal"),
        ("", "internal", "8.8.8.8", None),
        ("", "internal", "2001:4860:4860::8888", None),
        ("", "10.0.0.0/8 192.0.2.7", "192.0.2.7", "192.0.2.7 is in a denied network: 192.0.2.7/32"),
        ("", "LOOPBACK,,PRIVATE", "10.0.0.1", "10.0.0.1 is in a denied network: private"),
        ("127.0.0.1/32", "", "127.0.0.1", None),
        ("127.0.0.1/32", "", "127.0.0.2", "127.0.0.2 is not in an allowed network"),
        ("127.0.0.1/32", "", "::ffff:127.0.0.1", None),
        ("127.0.0.1/32", "", "::1", "::1 is not in an allowed network"),
        ("10.0.0.0/8", "10.9.0.0/16", "10.9.1.1", "10.9.1.1 is in a denied network: 10.9.0.0/16"),
        ("any", "loopback", "8.8.8.8", None),
        ("", "any", "not-an-address", "not-an-address is not an IP address"),
    ],
)
def test_policy_decides_per_address(allow: str, deny: str, address: str, expected: str | None) -> None:
    """Each address (IPv4, IPv6, IPv4-mapped and other embedded forms) is judged by deny first, then allow."""
    assert NetworkPolicy.parse(allow=allow, deny=deny).refusal(address) == expected


def test_default_policy_allows_everything() -> None:
    """With neither setting, every destination is allowed, as in xyOps."""
    settings = load_settings(environ={})
    assert (settings.web_hook_allow_networks, settings.web_hook_deny_networks) == ("", "")
    assert NetworkPolicy.parse().unrestricted


@pytest.mark.parametrize("value", ["loopback, 10.0.0.0/33", "localnet", "['loopback']"])
def test_invalid_network_setting_is_refused(value: str) -> None:
    """A setting naming a network that does not exist stops the server from starting, naming the entry."""
    with pytest.raises(ConfigError, match="Invalid network in web_hook_deny_networks"):
        load_settings(environ={"CRONWRIGHT_WEB_HOOK_DENY_NETWORKS": value})
    with pytest.raises(ConfigError, match="Invalid network in web_hook_allow_networks"):
        load_settings(environ={"CRONWRIGHT_WEB_HOOK_ALLOW_NETWORKS": value})


# ---- black box: test_web_hook and job actions on a server that denies internal networks


def test_loopback_in_every_spelling_is_refused(
    deny_server: Server, receiver: HttpReceiver, v6_receiver: HttpReceiver
) -> None:
    """Names, decimal/octal/hex/short IPv4, 0.0.0.0, ::1 and ::ffff:127.0.0.1 all resolve to a denied address."""
    api = deny_server.client()
    port = receiver.port
    hosts = ["127.0.0.1", "localhost", "2130706433", "0x7f.1", "0x7f000001", "017700000001", "127.1", "0.0.0.0"]
    urls = [f"http://{host}:{port}/x" for host in hosts] + [
        f"http://[::ffff:127.0.0.1]:{port}/x",
        f"http://user:pw@127.0.0.1:{port}/x?token=t",
        v6_receiver.url("/x"),
    ]
    for url in urls:
        result = try_hook(api, url)
        assert result["code"] == "webhook", (url, result)
        assert result["description"].startswith("Destination not allowed: "), (url, result)
        assert "is in a denied network: loopback)" in result["description"], (url, result)
    assert receiver.requests == [] and v6_receiver.requests == []


def test_denied_destination_reads_clearly(deny_server: Server, receiver: HttpReceiver) -> None:
    """The outcome names the host and the address and the network that refused it, and no retry is spent."""
    result = try_hook(deny_server.client(), receiver.url("/x", host="localhost"), retries=3)
    assert result["code"] == "webhook"
    assert result["description"] == "Destination not allowed: localhost (127.0.0.1 is in a denied network: loopback)"
    assert "**Attempts:**" not in result["details"]
    assert "**Error:** Destination not allowed: localhost" in result["details"]
    assert receiver.requests == []


def test_job_action_to_denied_network_fails_cleanly(deny_server: Server, receiver: HttpReceiver) -> None:
    """A web hook action (shared client) and an ``ssl_cert_bypass`` one (private client) are both refused."""
    api = deny_server.client()
    for extra in ({}, {"ssl_cert_bypass": True}):
        job = job_with_hook(api, receiver.url("/action"), **extra)
        assert job["code"] == 0
        [entry] = job["actions"]
        assert entry["code"] == "webhook", (extra, entry)
        assert entry["description"] == "Destination not allowed: 127.0.0.1 (127.0.0.1 is in a denied network: loopback)"
    assert receiver.requests == []


# ---- black box: an allow list, and redirects re-checked against it


def test_redirect_hops_are_rechecked(
    allow_server: Server, receiver: HttpReceiver, other_receiver: HttpReceiver
) -> None:
    """With only 127.0.0.1 allowed, a redirect from 127.0.0.1 to 127.0.0.2 is refused before connecting."""
    api = allow_server.client()
    assert try_hook(api, receiver.url("/direct"))["code"] == 0  # the allowed network works
    denied = try_hook(api, other_receiver.url("/direct"))
    assert denied["description"] == "Destination not allowed: 127.0.0.2 (127.0.0.2 is not in an allowed network)"
    hop = receiver.url("/redirect?to=" + other_receiver.url("/stolen"))
    result = try_hook(api, hop, follow=True, retries=2)
    assert result["code"] == "webhook"
    assert result["description"] == "Destination not allowed: 127.0.0.2 (127.0.0.2 is not in an allowed network)"
    assert "**Redirects:**" in result["details"] and "HTTP 302" in result["details"]
    job = job_with_hook(api, hop, follow=True)
    [entry] = job["actions"]
    assert entry["description"] == "Destination not allowed: 127.0.0.2 (127.0.0.2 is not in an allowed network)"
    assert [seen.path.split("?")[0] for seen in receiver.requests] == ["/direct", "/redirect", "/redirect"]
    assert other_receiver.requests == []


# ---- in process: the connection goes to the address that was checked


class ScriptedResolver:
    """A DNS stand-in: each call returns the next scripted answer (an attacker's rebinding name server)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


def fire_with(policy: NetworkPolicy, url: str, resolve: ScriptedResolver, **kwargs: Any) -> Outcome:
    """Fire one hook through a guarded client using ``resolve`` instead of DNS."""

    async def main() -> Outcome:
        async with web_hook_client(policy, resolve=resolve, **kwargs) as client:
            hook = {"method": "POST", "url": url, "body": "x", "timeout": 5}
            return await fire_web_hook(hook, {}, client=client, policy=policy)

    return asyncio.run(main())


def test_dns_rebinding_cannot_swap_the_address(receiver: HttpReceiver, other_receiver: HttpReceiver) -> None:
    """The name is resolved once and the connection goes to that checked address, never a second answer."""
    assert other_receiver.port != receiver.port
    resolver = ScriptedResolver(["127.0.0.1"], ["127.0.0.2"])
    policy = NetworkPolicy.parse(allow="127.0.0.1/32")
    outcome = fire_with(policy, f"http://rebind.test:{receiver.port}/r", resolver)
    assert (outcome.code, outcome.description) == (0, "Success (HTTP 200 OK)")
    assert resolver.calls == ["rebind.test"]
    [seen] = receiver.requests
    assert seen.headers["host"] == f"rebind.test:{receiver.port}"
    assert other_receiver.requests == []


def test_every_resolved_address_is_checked(receiver: HttpReceiver) -> None:
    """A name answering one allowed and one denied address is refused as a whole."""
    resolver = ScriptedResolver(["127.0.0.1", "127.0.0.2"])
    outcome = fire_with(NetworkPolicy.parse(allow="127.0.0.1/32"), f"http://mixed.test:{receiver.port}/m", resolver)
    assert outcome.description == "Destination not allowed: mixed.test (127.0.0.2 is not in an allowed network)"
    assert receiver.requests == []


def test_unreachable_first_address_falls_back(receiver: HttpReceiver) -> None:
    """When the first checked address refuses the connection, the next checked one is used."""
    with socket.create_server(("127.0.0.2", 0)) as probe:
        closed = probe.getsockname()[1]
    resolver = ScriptedResolver(["127.0.0.2", "127.0.0.1"])
    policy = NetworkPolicy.parse(deny="private")
    outcome = fire_with(policy, f"http://two.test:{receiver.port}/f", resolver)
    assert outcome.code == 0 and len(receiver.requests) == 1
    refused = fire_with(policy, f"http://two.test:{closed}/f", ScriptedResolver(["127.0.0.2"]))
    assert (refused.code, refused.description) == ("webhook", "Connection refused")


@pytest.fixture(scope="module")
def hooks_test_tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting it) for a self-signed certificate naming only hooks.test."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    folder: Path = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=hooks.test",
         "-addext", "subjectAltName=DNS:hooks.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


def test_tls_still_verifies_the_url_host(hooks_test_tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    """Connecting to the checked address keeps SNI and certificate checks on the URL's host name."""
    server_context, client_context = hooks_test_tls
    policy = NetworkPolicy.parse(allow="127.0.0.1/32")
    with HttpReceiver("127.0.0.1", ssl_context=server_context) as secure:
        good = fire_with(policy, secure.url("/t", host="hooks.test", scheme="https"), ScriptedResolver(["127.0.0.1"]),
                         verify=client_context)  # fmt: skip
        wrong = fire_with(
            policy, secure.url("/t", scheme="https"), ScriptedResolver(["127.0.0.1"]), verify=client_context
        )
        assert len(secure.requests) == 1
    assert (good.code, good.description) == (0, "Success (HTTP 200 OK)")
    assert wrong.code == "webhook" and wrong.description.startswith("TLS error"), wrong.description
