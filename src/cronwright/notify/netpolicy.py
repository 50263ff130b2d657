"""Which networks web hooks may reach, enforced on every connection they open (issue 8, point 13).

A :class:`NetworkPolicy` comes from two settings, ``web_hook_allow_networks`` and
``web_hook_deny_networks``: comma- or space-separated CIDRs (``10.0.0.0/8``, ``fd00::/8``), single
addresses (``192.0.2.7``) or keywords (:data:`KEYWORDS`, plus ``internal``: every address that is
not globally reachable). An empty allow list allows every destination (xyOps behaviour); a deny
entry wins over an allow entry. IPv4 addresses embedded in IPv6 ones (``::ffff:127.0.0.1``, NAT64,
6to4, Teredo, ``::a.b.c.d``) are checked too.

:func:`web_hook_client` builds the HTTP client that enforces the policy: its network backend
resolves the host once, checks EVERY resolved address, and connects only to those checked
addresses (racing them as Happy Eyeballs does), so a DNS answer cannot change between the check and
the connection. TLS still verifies the certificate against, and sends SNI for, the URL's host name.
Redirect hops and retries open their connections through the same backend, so each is checked. A
refused destination raises :class:`DestinationDenied`, which the web hook code turns into an
``Outcome``. The client also keeps httpx/httpcore from logging URLs and headers
(:func:`quiet_http_loggers`).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import math
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Final

import anyio
import httpcore
import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: ``resolve(host, port)`` → the addresses to connect to, as text (a seam for tests)
Resolver = Callable[[str, int], Awaitable[list[str]]]

#: the named networks an allow or deny list may use besides CIDRs and ``internal``
KEYWORDS: Final[dict[str, tuple[str, ...]]] = {
    # 0.0.0.0 and :: reach this host too
    "loopback": ("127.0.0.0/8", "::1/128", "0.0.0.0/8", "::/128"),
    "private": ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"),
    # includes the cloud metadata address 169.254.169.254
    "link-local": ("169.254.0.0/16", "fe80::/10"),
    "multicast": ("224.0.0.0/4", "ff00::/8"),
    "any": ("0.0.0.0/0", "::/0"),
}
INTERNAL: Final = "internal"
#: when the first connection attempt has not finished, the next address is tried after this long
HAPPY_EYEBALLS_DELAY_S: Final = 0.25
_SEPARATORS: Final = re.compile(r"[\s,]+")
_NAT64: Final = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE: Final = ipaddress.IPv6Network("::/96")
_QUIET_LOGGERS: Final = ("httpx", "httpcore")


class DestinationDenied(Exception):
    """The policy refuses a destination; ``str`` is the description for the action's outcome."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"Destination not allowed: {host} ({reason})")
        self.host = host
        self.reason = reason


@dataclass(frozen=True)
class _Entry:
    """One entry of a list: a keyword (its networks) or one network."""

    label: str
    networks: tuple[Network, ...] = ()
    non_global: bool = False

    def matches(self, address: Address) -> bool:
        if self.non_global and not address.is_global:
            return True
        return any(address.version == net.version and address in net for net in self.networks)


@dataclass(frozen=True)
class NetworkPolicy:
    """``allow`` (empty: everything) and ``deny`` entries; see the module docstring."""

    allow: tuple[_Entry, ...] = ()
    deny: tuple[_Entry, ...] = ()

    @classmethod
    def parse(cls, *, allow: str = "", deny: str = "") -> NetworkPolicy:
        """Build a policy from the two settings' text; ``ValueError`` names a bad entry."""
        return cls(_parse_list("web_hook_allow_networks", allow), _parse_list("web_hook_deny_networks", deny))

    @property
    def unrestricted(self) -> bool:
        """True when every destination is allowed (nothing to check)."""
        return not self.allow and not self.deny

    def refusal(self, address: str) -> str | None:
        """None when ``address`` may be reached, else why not (for the outcome's description)."""
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return f"{address} is not an IP address"
        views = _views(parsed)
        for entry in self.deny:
            if any(entry.matches(view) for view in views):
                return f"{address} is in a denied network: {entry.label}"
        if self.allow and not any(entry.matches(views[0]) for entry in self.allow):
            return f"{address} is not in an allowed network"
        return None


@functools.lru_cache(maxsize=8)
def policy_for(allow: str, deny: str) -> NetworkPolicy:
    """:meth:`NetworkPolicy.parse`, cached (settings do not change while the server runs)."""
    return NetworkPolicy.parse(allow=allow, deny=deny)


def _parse_list(setting: str, text: str) -> tuple[_Entry, ...]:
    entries: list[_Entry] = []
    for token in _SEPARATORS.split(text.strip()):
        if not token:
            continue
        name = token.lower().replace("_", "-")
        if name == INTERNAL:
            named = [n for key, names in KEYWORDS.items() if key != "any" for n in names]
            entries.append(_Entry(name, tuple(ipaddress.ip_network(n) for n in named), non_global=True))
        elif name in KEYWORDS:
            entries.append(_Entry(name, tuple(ipaddress.ip_network(n) for n in KEYWORDS[name])))
        else:
            try:
                network = ipaddress.ip_network(token, strict=False)
            except ValueError:
                choices = ", ".join([*KEYWORDS, INTERNAL])
                raise ValueError(
                    f"Invalid network in {setting}: {token!r} (use a CIDR such as 10.0.0.0/8, an address, "
                    f'or one of {choices}; several are separated by commas, as in "loopback, private")'
                ) from None
            entries.append(_Entry(str(network), (network,)))
    return tuple(entries)


def _views(address: Address) -> list[Address]:
    """The address as the kernel will use it first, then every IPv4 address embedded in it."""
    if isinstance(address, ipaddress.IPv4Address):
        return [address]
    if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d connects over IPv4
        return [address.ipv4_mapped]
    views: list[Address] = [address]
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if any(address in net for net in _NAT64) or (address in _IPV4_COMPATIBLE and int(address) > 1):
        views.append(low32)
    if address.sixtofour is not None:
        views.append(address.sixtofour)
    if address.teredo is not None:
        views.extend(address.teredo)
    return views


# ---- enforcement: the HTTP client


async def resolve_host(host: str, port: int) -> list[str]:
    """The addresses ``getaddrinfo`` gives for ``host`` (numeric forms such as ``0x7f.1`` included)."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, resolving and checking every destination before connecting."""

    def __init__(self, policy: NetworkPolicy, resolve: Resolver = resolve_host) -> None:
        self._policy = policy
        self._resolve = resolve
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if self._policy.unrestricted:
            return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        deadline = math.inf if timeout is None else anyio.current_time() + timeout
        try:
            with anyio.fail_after(timeout):
                addresses = await self._resolve(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"Timed out resolving {host}") from exc
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        if not addresses:
            raise httpcore.ConnectError(f"No address found for {host}")
        for address in addresses:  # every address, so no answer of a round-robin name slips through
            reason = self._policy.refusal(address)
            if reason is not None:
                raise DestinationDenied(host, reason)
        return await self._connect_first(addresses, port, deadline, local_address, socket_options)

    async def _connect_first(
        self,
        addresses: list[str],
        port: int,
        deadline: float,
        local_address: str | None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to the first checked address that answers (a new attempt starts every 250 ms)."""
        winner: httpcore.AsyncNetworkStream | None = None
        errors: list[Exception] = []

        async def attempt(address: str, finished: anyio.Event) -> None:
            nonlocal winner
            try:
                remaining = None if math.isinf(deadline) else max(0.0, deadline - anyio.current_time())
                stream = await self._inner.connect_tcp(address, port, remaining, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                errors.append(exc)
                return
            finally:
                finished.set()
            if winner is None:
                winner = stream
                group.cancel_scope.cancel()
            else:
                await stream.aclose()

        async with anyio.create_task_group() as group:
            for address in addresses:
                finished = anyio.Event()
                group.start_soon(attempt, address, finished)
                with anyio.move_on_after(HAPPY_EYEBALLS_DELAY_S):
                    await finished.wait()
        if winner is not None:
            return winner
        refused = [exc for exc in errors if not isinstance(exc, httpcore.ConnectTimeout)]
        raise (refused or errors)[0]

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("Web hooks never connect to Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport (no proxy, HTTP/1.1) whose connections go through :class:`GuardedBackend`."""

    def __init__(
        self, policy: NetworkPolicy, *, verify: ssl.SSLContext | bool = True, resolve: Resolver = resolve_host
    ) -> None:
        quiet_http_loggers()
        ssl_context = httpx.create_ssl_context(verify=verify, trust_env=False)
        super().__init__(verify=ssl_context, trust_env=False)
        if not isinstance(getattr(self, "_pool", None), httpcore.AsyncConnectionPool):  # httpx internals moved
            raise RuntimeError("Cannot install the web hook destination check: httpx's transport has changed")
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(policy, resolve),
        )


def web_hook_client(
    policy: NetworkPolicy, *, verify: ssl.SSLContext | bool = True, resolve: Resolver = resolve_host
) -> httpx.AsyncClient:
    """An HTTP client for web hooks: the policy checked on every connection, no proxy from the environment."""
    return httpx.AsyncClient(transport=GuardedTransport(policy, verify=verify, resolve=resolve), trust_env=False)


def quiet_http_loggers() -> None:
    """Keep httpx (full request URLs at INFO) and httpcore (headers at DEBUG) out of the server log."""
    for name in _QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:  # NOTSET (0) included: it would inherit the root's level
            logger.setLevel(logging.WARNING)
