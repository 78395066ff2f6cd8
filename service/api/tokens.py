"""The token a machine sends: ``Authorization: Bearer <token>`` (tokens made by `tillbridge tokens`)."""

from __future__ import annotations

from flask import request


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer …`` header, if the request has one."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()
