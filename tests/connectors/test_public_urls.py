"""URLs users give (outbound webhooks, workflow calls and notices) reach public addresses only, and the
address checked is the address connected to: a host that answers a public address to the check and a
private one to the connection (DNS rebinding) is refused at connect time."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask

from service.api.outbound.delivery import _post
from service.connectors.public_urls import UnsafeURL, check_public_url, public_session, refusal
from service.sandbox.server import RunningSandbox, start_in_thread
from service.settings import load_settings

REBINDING_HOST = "rebinding.tillbridge-test.example"
PUBLIC_ADDRESS = "93.184.216.34"


@pytest.fixture()
def receiver() -> Iterator[tuple[RunningSandbox, list[bytes]]]:
    got: list[bytes] = []
    app = Flask("receiver")

    @app.post("/hook")
    def hook() -> tuple[str, int]:
        from flask import request
        got.append(request.get_data())
        return "", 204

    server = start_in_thread(app)
    yield server, got
    server.stop()


def port(server: RunningSandbox) -> int:
    return int(server.url.rsplit(":", 1)[1])


@pytest.fixture()
def rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The rebinding host answers a public address to its first lookup and 127.0.0.1 after it."""
    answers: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != REBINDING_HOST:
            return real(host, port, *args, **kwargs)
        address = PUBLIC_ADDRESS if not answers else "127.0.0.1"
        answers.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port or 80)))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def test_a_rebinding_host_passes_the_check_but_is_refused_at_connect_time(
        receiver: tuple[RunningSandbox, list[bytes]], rebinding_dns: list[str]) -> None:
    server, got = receiver
    url = f"http://{REBINDING_HOST}:{port(server)}/hook"
    assert check_public_url(url, allow_private=False) == url  # the first answer is public
    with pytest.raises(requests.ConnectionError) as caught, public_session(allow_private=False) as session:
        session.post(url, data=b"{}", timeout=5)
    assert "127.0.0.1, which is not a public address" in refusal(caught.value)
    assert rebinding_dns == [PUBLIC_ADDRESS, "127.0.0.1"] and got == []


def test_plain_requests_would_have_reached_inside(receiver: tuple[RunningSandbox, list[bytes]],
                                                 rebinding_dns: list[str]) -> None:
    """What the guard is for: the same check followed by a plain request posts to 127.0.0.1."""
    server, got = receiver
    url = f"http://{REBINDING_HOST}:{port(server)}/hook"
    check_public_url(url, allow_private=False)
    assert requests.post(url, data=b"inside", timeout=5).status_code == 204
    assert got == [b"inside"]


def test_an_outbound_webhook_to_a_rebinding_host_is_not_sent(receiver: tuple[RunningSandbox, list[bytes]],
                                                            rebinding_dns: list[str]) -> None:
    server, got = receiver
    settings = load_settings({"WEBHOOKS_ALLOW_PRIVATE_URLS": False, "WEBHOOK_TIMEOUT_SECONDS": 5}, environ={})
    status, error, _answer = _post(f"http://{REBINDING_HOST}:{port(server)}/hook", b"{}", "evt_1", ["whsec_c2VjcmV0LWtleS1mb3ItdGVzdHM="],
                                   settings)
    assert status is None and error.startswith("not sent:") and "not a public address" in error
    assert got == []


def test_private_addresses_are_reached_only_when_allowed(receiver: tuple[RunningSandbox, list[bytes]]) -> None:
    server, got = receiver
    url = f"http://127.0.0.1:{port(server)}/hook"
    with pytest.raises(UnsafeURL):
        check_public_url(url, allow_private=False)
    with pytest.raises(requests.ConnectionError) as caught, public_session(allow_private=False) as session:
        session.post(url, data=b"no", timeout=5)
    assert "not a public address" in refusal(caught.value)
    with public_session(allow_private=True) as session:
        assert session.post(url, data=b"yes", timeout=5).status_code == 204
    assert got == [b"yes"]
