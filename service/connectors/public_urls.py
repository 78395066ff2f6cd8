"""Which URLs Tillbridge may send to on a user's say-so (outbound webhooks, workflow notices and HTTP
calls): http(s), no credentials in the URL, and, unless private addresses are allowed (tests, closed
networks), a host that resolves to public addresses only, so a URL cannot reach Redis, the database
or a cloud metadata service from inside."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError


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
        public_addresses(host, parts.port or (443 if parts.scheme == "https" else 80))
    except NotPublicAddress as exc:
        raise UnsafeURL(f"{exc}: webhooks go to the internet only") from None
    except (OSError, ValueError) as exc:
        raise UnsafeURL(f"the host {host!r} does not resolve ({exc}); check the URL") from None
    return url.strip()


class NotPublicAddress(ValueError):
    """The host resolves to an address that is not public (loopback, private, link-local, ...)."""


def public_addresses(host: str, port: int) -> list[tuple[Any, ...]]:
    """``getaddrinfo`` of the host, if every address it resolves to is public; else NotPublicAddress."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global or address.is_multicast:
            raise NotPublicAddress(f"the host {host!r} resolves to {address}, which is not a public address")
    return infos


# -- connecting: the address checked is the address connected to -------------------------------------
#
# check_public_url resolves the host when a URL is saved or used; the HTTP library then resolves it
# again to connect. A host whose DNS answers a public address to the first lookup and 127.0.0.1 or
# 169.254.169.254 to the second (DNS rebinding) would pass the check and reach inside. A
# public_session resolves once, at connect time, checks every address, and connects to the checked
# one: there is no second lookup to win.


class PrivateAddressRefused(NewConnectionError):
    """The host resolved, at connect time, to an address that is not public."""


class _PublicMixin:
    """``_new_conn`` of urllib3's connections, connecting only to a checked public address."""

    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        try:
            infos = public_addresses(self.host, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[arg-type]
        except NotPublicAddress as exc:
            raise PrivateAddressRefused(self, f"not connected: {exc}") from None  # type: ignore[arg-type]
        last: OSError | None = None
        for family, kind, proto, _name, sockaddr in infos:
            sock = socket.socket(family, kind, proto)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                if isinstance(self.timeout, (int, float)):
                    sock.settimeout(self.timeout)
                if self.source_address:
                    sock.bind(self.source_address)
                sock.connect(sockaddr)
                return sock
            except TimeoutError as exc:
                sock.close()
                raise ConnectTimeoutError(self, f"Connection to {self.host} timed out") from exc
            except OSError as exc:
                sock.close()
                last = exc
        raise NewConnectionError(self, f"Failed to establish a new connection: {last}")  # type: ignore[arg-type]


class _PublicHTTPConnection(_PublicMixin, HTTPConnection):
    pass


class _PublicHTTPSConnection(_PublicMixin, HTTPSConnection):
    pass


class _PublicHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PublicHTTPConnection


class _PublicHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection


class _PublicAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PublicHTTPPool, "https": _PublicHTTPSPool}


def public_session(*, allow_private: bool) -> requests.Session:
    """A requests session for URLs a user gave: unless private addresses are allowed, it connects
    only to public addresses, checked on the very address it connects to. No proxy from the
    environment is used (the check would then see the proxy, not the host)."""
    session = requests.Session()
    session.trust_env = False
    if not allow_private:
        adapter = _PublicAdapter()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return session


def refusal(exc: BaseException) -> str:
    """Why a public session refused to connect (its message), or "" for any other failure."""
    seen: set[int] = set()
    pending: list[Any] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, PrivateAddressRefused):
            return str(current).split(": ", 1)[-1]
        pending.extend([getattr(current, "reason", None), current.__cause__, current.__context__,
                        *[a for a in getattr(current, "args", ()) if isinstance(a, BaseException)]])
    return ""
