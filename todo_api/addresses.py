"""Which network addresses a webhook may reach, and how a name is resolved: a leaf (it imports
nothing of ours), used where a url is written (models/webhooks.py: an address written in it)
and where one is connected to (webhook_http.py: every address its name resolves to)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from typing import Final

# A name's addresses: (host, port) -> addresses as text. Tests give their own.
Resolve = Callable[[str, int], Awaitable[list[str]]]


async def system_resolve(host: str, port: int) -> list[str]:
    """The addresses the system's resolver gives for a name, in its order, each once."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# RFC 6761: these names are loopback by definition, whatever a resolver says.
LOOPBACK_NAMES: Final = ("localhost",)


def refusal(address: Address) -> str | None:
    """Why a webhook may not reach this address (for a message), or None when it may: only
    addresses of the public internet are allowed."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, ipaddress.IPv6Address) and address in _UNIQUE_LOCAL:
        return "a unique-local address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "an address outside the public internet"
    return None


_UNIQUE_LOCAL: Final = ipaddress.IPv6Network("fc00::/7")


def written_address(host: str) -> Address | None:
    """The address a url's host names literally (also the old IPv4 spellings that resolvers
    read as one: `127.1`, `0x7f.0.0.1`, `2130706433`), or None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host) and host[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def host_refusal(host: str) -> str | None:
    """Why a url's host is refused as written (an address, or a loopback name), or None."""
    lowered = host.lower().rstrip(".")
    if any(lowered == name or lowered.endswith("." + name) for name in LOOPBACK_NAMES):
        return "a loopback name"
    address = written_address(host)
    return None if address is None else refusal(address)
