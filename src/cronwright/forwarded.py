"""Who the client is when requests pass through reverse proxies (setting ``trusted_proxies``).

``X-Forwarded-For`` is a list to which each proxy appends the address it received the request
from; whatever stands left of the last trusted hop was written by the client and proves nothing.
The rule (rightmost untrusted): start at the peer address; while it is a trusted proxy, step one
entry left in ``X-Forwarded-For``; the first address that is not a trusted proxy is the client.
With no trusted proxies (the default) the peer address is the client and the header is ignored,
and so is ``X-Forwarded-Proto``.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_SEPARATORS = re.compile(r"[,\s]+")
_WITH_PORT = re.compile(r"^\[([0-9A-Fa-f:.]+)\](?::\d+)?$|^(\d{1,3}(?:\.\d{1,3}){3}):\d+$")


@functools.lru_cache(maxsize=16)
def parse_networks(text: str) -> tuple[Network, ...]:
    """``"10.0.0.1, 192.168.0.0/16 ::1"`` → networks; raises ``ValueError`` naming a bad entry."""
    networks: list[Network] = []
    for entry in _SEPARATORS.split(text.strip()):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or CIDR network") from None
    return tuple(networks)


def parse_address(text: str) -> Address | None:
    """An address as proxies write it (bare, ``[v6]:port`` or ``v4:port``); IPv4-mapped IPv6
    addresses become IPv4. None when it is not an address."""
    text = text.strip()
    match = _WITH_PORT.match(text)
    if match:
        text = match.group(1) or match.group(2)
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class Route:
    """Where a request came from."""

    #: the client's address
    client: str
    #: the client first, then each trusted proxy it passed (the peer last)
    chain: tuple[str, ...]
    #: the peer is a trusted proxy (its ``X-Forwarded-*`` headers may be believed)
    proxied: bool


def resolve(peer: str, forwarded_for: str, networks: tuple[Network, ...]) -> Route:
    """The client of a request from ``peer`` carrying ``X-Forwarded-For: forwarded_for``."""
    peer_address = parse_address(peer) if networks and peer else None
    if peer_address is None or not _trusted(peer_address, networks):
        return Route(client=peer, chain=(peer,) if peer else (), proxied=False)
    hops = [str(peer_address)]
    for entry in reversed(forwarded_for.split(",")):
        if not entry.strip():
            continue
        address = parse_address(entry)
        if address is None:  # not written by a well-behaved proxy: the last trusted hop stands
            break
        hops.append(str(address))
        if not _trusted(address, networks):
            break
    chain = tuple(dict.fromkeys(reversed(hops)))
    return Route(client=chain[0], chain=chain, proxied=True)


def _trusted(address: Address, networks: tuple[Network, ...]) -> bool:
    return any(address.version == network.version and address in network for network in networks)
