"""OAuth 2.0 authorization code, as Heartland Retail documents it for distributed apps (the
reference, §1.2), so Tillbridge's connections page can be set up against the sandbox.

- ``GET /oauth/authorize?client_id=&scope=&redirect_uri=&state=``: a consent page; "Allow" sends
  the browser to ``redirect_uri?code=…&state=…``, "Deny" to ``redirect_uri?error=access_denied&state=…``.
- ``POST /api/oauth/token`` (form or JSON; ``GET`` with query parameters too, as one public client
  sends it) with ``client_id``, ``client_secret``, ``code``, ``grant_type=authorization_code``,
  ``redirect_uri``: ``{"access_token", "token_type": "bearer", "scope"}``. The access token is then
  accepted as a Bearer token like an API token.

Uncertain details, chosen here and written in the sandbox README: the code is single-use and lasts
10 minutes; ``redirect_uri`` must equal the one given to /oauth/authorize; no refresh token is
issued (none was observed); errors answer 400 with ``{"error": …, "error_description": …}`` (RFC 6749
§5.2). Registered clients come from the ``oauth_clients`` option (client id → secret).
"""

from __future__ import annotations

import html
import secrets
import threading
import time
from collections.abc import MutableSet
from urllib.parse import urlencode, urlsplit

from flask import Flask, Response, jsonify, redirect, request
from werkzeug.wrappers import Response as BaseResponse

CODE_SECONDS = 600


class OAuthServer:
    def __init__(self, clients: dict[str, str], tokens: MutableSet[str]) -> None:
        self.clients = dict(clients)
        self.tokens = tokens  # the app's accepted Bearer tokens: a granted access token joins them
        self.codes: dict[str, tuple[str, str, str, float]] = {}  # code → client, redirect_uri, scope, expiry
        self.lock = threading.Lock()

    def init_app(self, app: Flask) -> None:
        app.add_url_rule("/oauth/authorize", "oauth_authorize", self.authorize, methods=["GET", "POST"])
        app.add_url_rule("/api/oauth/token", "oauth_token", self.token, methods=["GET", "POST"])

    def authorize(self) -> BaseResponse:
        values = request.values
        client_id, redirect_uri = values.get("client_id", ""), values.get("redirect_uri", "")
        scope, state = values.get("scope", ""), values.get("state", "")
        if client_id not in self.clients:
            return _page("Unknown app", f"No app is registered with client_id {client_id!r}.", 400)
        target = urlsplit(redirect_uri)
        if target.scheme not in ("http", "https") or not target.netloc:
            return _page("Bad redirect", "redirect_uri must be an absolute http(s) URL.", 400)
        if not scope.strip():
            return _page("No scope", "scope is required (space-delimited permissions).", 400)
        if request.method == "GET":
            fields = "".join(f"<input type='hidden' name='{k}' value='{html.escape(v)}'>" for k, v in
                             {"client_id": client_id, "redirect_uri": redirect_uri, "scope": scope,
                              "state": state}.items())
            return _page("Allow access?", f"<strong>{html.escape(client_id)}</strong> asks to use your Heartland "
                         f"Retail account with: <code>{html.escape(scope)}</code>."
                         f"<form method='post'>{fields}<button name='decision' value='allow'>Allow</button> "
                         "<button name='decision' value='deny'>Deny</button></form>", 200, raw=True)
        separator = "&" if target.query else "?"
        if values.get("decision") != "allow":
            return redirect(f"{redirect_uri}{separator}{urlencode({'error': 'access_denied', 'state': state})}")
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = (client_id, redirect_uri, scope, time.time() + CODE_SECONDS)
        return redirect(f"{redirect_uri}{separator}{urlencode({'code': code, 'state': state})}")

    def token(self) -> Response:
        values = request.get_json(silent=True) if request.is_json else request.values
        values = values or {}
        client_id = str(values.get("client_id", ""))
        if self.clients.get(client_id) is None or not secrets.compare_digest(
                self.clients[client_id], str(values.get("client_secret", ""))):
            return _oauth_error("invalid_client", "unknown client_id or wrong client_secret", 401)
        if values.get("grant_type") != "authorization_code":
            return _oauth_error("unsupported_grant_type", "grant_type must be authorization_code")
        with self.lock:
            grant = self.codes.pop(str(values.get("code", "")), None)
        if grant is None or grant[3] < time.time() or grant[0] != client_id:
            return _oauth_error("invalid_grant", "the code is unknown, used already, expired, or not this client's")
        if grant[1] != values.get("redirect_uri"):
            return _oauth_error("invalid_grant", "redirect_uri differs from the one sent to /oauth/authorize")
        access = f"hlo_{secrets.token_urlsafe(32)}"
        self.tokens.add(access)
        return jsonify({"access_token": access, "token_type": "bearer", "scope": grant[2]})


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    return response


def _page(title: str, body: str, status: int, raw: bool = False) -> Response:
    content = body if raw else html.escape(body)
    page = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font:15px/1.5 system-ui,sans-serif;margin:3rem auto;max-width:36rem}"
            "button{font:inherit;padding:.4rem 1rem;margin:.8rem .5rem 0 0}</style></head>"
            f"<body><h1>Heartland Retail (sandbox)</h1><h2>{html.escape(title)}</h2><p>{content}</p></body></html>")
    return Response(page, status=status, mimetype="text/html")
