"""Where a webhook may be sent, after OWASP's Server-Side Request Forgery Prevention Cheat Sheet
(https://cheatsheetseries.owasp.org/cheatsheets/Server_Side_Request_Forgery_Prevention_Cheat_Sheet.html):
a vendor chooses the URL, the worker makes the request, so the URL must not reach inside our network.

- At registration (`check_url`): https only; an absolute URL without whitespace, control characters,
  backslashes, userinfo or percent-escapes in the host; an IP literal only in its canonical spelling
  (127.1, 2130706433, 0x7f.1 are refused: resolvers read them as 127.0.0.1) and only a public one;
  no single-label or internal names (localhost, postgres, *.internal, *.local, ...); port 443 or >= 1024.
- At delivery (`resolve_address`): the same check again (rows registered before it), then every address
  the name resolves to must be public; the connection goes to that checked address
  (`pinned_transport`), never to a second resolution, with the URL's host kept in Host and TLS SNI.
- `SLA_WEBHOOK_ALLOW_LOOPBACK=true` (the embedded `slatrack up` and the tests) admits http to loopback
  receivers (127.0.0.0/8, ::1, localhost) and nothing else.

Public means `is_global` and none of: loopback, private, link-local, multicast, reserved, unspecified,
shared (100.64/10), or an IPv6 address carrying an IPv4 one (mapped, compatible, 6to4, Teredo, NAT64).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses it resolves to (a stub in tests: nothing leaves the machine)
Resolver = Callable[[str, int], Awaitable[list[str]]]

SOURCE = "runtime/webhook_target.py"
_FORBIDDEN_CHARACTERS = re.compile(r"[\x00-\x20\x7f\\]")  # whitespace, CR/LF, controls, backslash
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_NUMERIC_HOST = re.compile(r"[0-9a-fx.]+")  # what inet_aton may read as an IPv4 address
# Names that only mean something inside a network (RFC 6761, RFC 6762, RFC 8375, common practice).
_INTERNAL_SUFFIXES = (
    *(".localhost", ".local", ".localdomain", ".internal", ".intranet", ".lan", ".home", ".corp"),
    *(".home.arpa", ".arpa", ".onion"),
)
_EMBEDDING_IPV4 = (
    ipaddress.ip_network("::/96"),  # IPv4-compatible (deprecated)
    ipaddress.ip_network("::ffff:0:0/96"),  # IPv4-mapped
    ipaddress.ip_network("64:ff9b::/96"),  # NAT64
    ipaddress.ip_network("64:ff9b:1::/48"),  # local NAT64
    ipaddress.ip_network("2002::/16"),  # 6to4
    ipaddress.ip_network("2001::/32"),  # Teredo
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT


class UnsafeTarget(Exception):
    """A webhook URL or address we will not send to: a rule name and a fixed reason (never the text of
    an exception, which could tell a vendor what answers inside)."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule, self.reason = rule, reason


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lowercase ASCII, without brackets
    port: int
    literal: IPAddress | None  # the host is an IP address


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and any(address in net for net in _EMBEDDING_IPV4):
        return False
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return False
    return address.is_global and not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def is_loopback(address: IPAddress) -> bool:
    """127.0.0.0/8 and ::1 only: an IPv4-mapped ::ffff:127.0.0.1 is refused as mapped."""
    return address.is_loopback and not (isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped)


def address_allowed(address: IPAddress, *, allow_loopback: bool) -> bool:
    return is_public(address) or (allow_loopback and is_loopback(address))


def _refuse(rule: str, reason: str) -> UnsafeTarget:
    return UnsafeTarget(f"webhook.{rule}", reason)


def _literal(host: str, bracketed: bool) -> IPAddress | None:
    """The IP address the host spells, or None for a name; a non-canonical IPv4 spelling is refused."""
    if bracketed:
        if "%" in host:
            raise _refuse("url_malformed", "an IPv6 zone (%) is not allowed in a webhook URL")
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise _refuse("url_malformed", "the bracketed host is not an IPv6 address") from None
    try:
        return ipaddress.IPv4Address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host) and any(c.isdigit() for c in host.split(".")[-1][:1]):
        try:
            socket.inet_aton(host)
        except OSError:
            return None  # not an address a resolver would read either; the name check decides
        raise _refuse("url_malformed", "an IPv4 address must be written as four decimal numbers (e.g. 203.0.113.7)")
    return None


def check_url(url: str, *, allow_loopback: bool) -> Target:
    """The registration check (and the first step at delivery); raises UnsafeTarget naming the rule."""
    if _FORBIDDEN_CHARACTERS.search(url) or not url.isascii():
        raise _refuse(
            "url_malformed",
            "the URL holds whitespace, a control character, a backslash or a non-ASCII character "
            "(write an internationalised name in its xn-- form)",
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refuse("url_malformed", "the URL's host or port cannot be read") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.netloc:
        raise _refuse("url_scheme", "must be an absolute https URL, e.g. https://vendor.example.com/slatrack")
    if "@" in parts.netloc:
        raise _refuse("url_credentials", "must not carry credentials (user@): every delivery is signed instead")
    if parts.fragment or "#" in url:
        raise _refuse("url_malformed", "must not carry a #fragment")
    bracketed = parts.netloc.startswith("[")
    host = (parts.hostname or "").rstrip(".") if not bracketed else (parts.hostname or "")
    if not host or "%" in parts.netloc.split("]")[0]:
        raise _refuse("url_malformed", "the URL has no host, or a percent-escape in it")
    literal = _literal(host, bracketed)
    if literal is not None:
        if not address_allowed(literal, allow_loopback=allow_loopback):
            raise _refuse("url_address", "the host must be a public address (not loopback, private or reserved)")
        loopback = is_loopback(literal)
    else:
        loopback = allow_loopback and (host == "localhost" or host.endswith(".localhost"))
        labels = host.split(".")
        if not loopback:
            if len(labels) < 2 or host.endswith(_INTERNAL_SUFFIXES) or host == "localhost":
                raise _refuse("url_address", "the host must be a public DNS name (no internal or single-label names)")
            if not all(_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
                raise _refuse("url_malformed", "the host is not a valid DNS name")
    if scheme == "http" and not loopback:
        raise _refuse("url_scheme", "must be https (http only to a loopback receiver where SLA_WEBHOOK_ALLOW_LOOPBACK)")
    effective = port if port is not None else (443 if scheme == "https" else 80)
    if not loopback and effective != 443 and effective < 1024:
        raise _refuse("url_port", "the port must be 443 or at least 1024")
    return Target(scheme, host, effective, literal)


async def system_resolver(host: str, port: int) -> list[str]:
    found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(sockaddr[0]) for *_, sockaddr in found]


async def resolve_address(target: Target, resolver: Resolver, *, allow_loopback: bool) -> str:
    """The address to connect to: the literal, or the first the name resolves to, once every address
    it resolves to was checked (one private answer among public ones refuses the lot)."""
    if target.literal is not None:
        return str(target.literal)
    try:
        found = await resolver(target.host, target.port)
    except OSError:
        raise _refuse("unresolvable", "the host name could not be resolved") from None
    if not found:
        raise _refuse("unresolvable", "the host name could not be resolved")
    addresses = []
    for text in found:
        try:
            addresses.append(ipaddress.ip_address(text))
        except ValueError:  # a scoped IPv6 address (fe80::1%eth0) and the like
            raise _refuse("address_not_public", "the host resolves to an address that is not public") from None
    if not all(address_allowed(a, allow_loopback=allow_loopback) for a in addresses):
        raise _refuse("address_not_public", "the host resolves to an address that is not public")
    return str(addresses[0])


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects to the checked address whatever host httpcore asks for (it asks for the URL's host,
    which stays in the Host header and in TLS SNI)."""

    def __init__(self, host: str, address: str) -> None:
        self.host, self.address = host, address
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        if host.strip("[]").lower().rstrip(".") != self.host:
            raise httpcore.ConnectError("not the checked host")
        return await self._backend.connect_tcp(self.address, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not webhook receivers")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class _PinnedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, host: str, address: str) -> None:
        super().__init__()
        # httpx builds its pool without a way to pass a network backend: rebuild it with ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(), network_backend=_PinnedBackend(host, address)
        )


def pinned_client(target: Target, address: str, timeout: httpx.Timeout) -> httpx.AsyncClient:
    """An HTTP client that reaches `target.host` only at `address`: no proxy from the environment
    (trust_env=False), redirects not followed."""
    return httpx.AsyncClient(
        transport=_PinnedTransport(target.host, address),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )
