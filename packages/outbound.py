"""Connections the index opens to hosts that users name (README images, webhook URLs): they
must not reach the index's own network (SSRF). Shared by packages/images.py and the webhooks
app, so there is one address rule.

A host is resolved once, every address it resolves to must be public, and the socket connects
to one of those checked addresses, so a DNS answer that changes between the check and the
connection (DNS rebinding) gains nothing. TLS still verifies the certificate against the name.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket


class HostNotFound(Exception):
    def __init__(self, host: str) -> None:
        super().__init__(f"The host {host!r} could not be found.")
        self.host = host


class AddressRefused(Exception):
    """Not an OSError on purpose: urllib wraps OSErrors into URLError, and this must reach the
    caller as itself."""

    def __init__(self, host: str) -> None:
        super().__init__(f"The host {host!r} is not on the public internet.")
        self.host = host


def is_public(address: str) -> bool:
    """False for loopback, link-local, private, reserved, shared and multicast addresses."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    return ip.is_global and not ip.is_multicast


def checked_connection(
    address: tuple[str, int],
    timeout: float | None = None,
    source_address: object = None,
    *,
    allow_private: bool,
) -> socket.socket:
    """socket.create_connection that refuses (AddressRefused) a host with any non-public
    address unless `allow_private`, and connects only to the addresses it checked."""
    host, port = address
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise HostNotFound(host) from exc
    if not allow_private and not all(is_public(info[4][0]) for info in infos):
        raise AddressRefused(host)
    error: OSError | None = None
    for family, type_, proto, _, sockaddr in infos:
        sock = socket.socket(family, type_, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        return sock
    raise error or OSError(f"no address for {host}")


class CheckedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection through `checked_connection`; `allow_private` per connection."""

    def __init__(self, *args, allow_private: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _connector(allow_private)


class CheckedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args, allow_private: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _connector(allow_private)


def _connector(allow_private: bool):
    def connect(
        address: tuple[str, int], timeout: float | None = None, source_address: object = None
    ) -> socket.socket:
        return checked_connection(address, timeout, source_address, allow_private=allow_private)

    return connect
