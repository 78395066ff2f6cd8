"""Which URLs Tillbridge may send to on a user's say-so (outbound webhooks, workflow notices and HTTP
calls): http(s), no credentials in the URL, and, unless private addresses are allowed (tests, closed
networks), a host that resolves to public addresses only, so a URL cannot reach Redis, the database
or a cloud metadata service from inside."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class UnsafeURL(ValueError):
    """The URL may not be used; the message says why and what to change."""


def check_public_url(url: str, *, allow_private: bool) -> str:
    """The URL, stripped, if Tillbridge may post to it; else UnsafeURL saying why."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http"):
        raise UnsafeURL("the URL must start with https:// (or http://)")
    if parts.username or parts.password:
        raise UnsafeURL("the URL must not carry a user or password; authenticate by the signature")
    host = parts.hostname
    if not host:
        raise UnsafeURL("the URL has no host")
    if allow_private:
        return url.strip()
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError) as exc:
        raise UnsafeURL(f"the host {host!r} does not resolve ({exc}); check the URL") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global or address.is_multicast:
            raise UnsafeURL(f"the host {host!r} resolves to {address}, which is not a public address: webhooks "
                            "go to the internet only")
    return url.strip()
