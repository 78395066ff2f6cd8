"""The integration activation handshake, as Magento runs it when an admin clicks Activate on an
integration that has an Endpoint URL and an Identity link URL (the reference: Magento REST API
notes §2.2, and Adobe's "OAuth-based authentication" page):

1. ``POST /__sandbox/integrations/activate`` ``{"endpoint_url", "identity_link_url"}`` plays the
   admin's click: the sandbox makes a consumer (key, secret) and a verifier and POSTs them to the
   endpoint as a form: ``oauth_consumer_key``, ``oauth_consumer_secret``, ``store_base_url``,
   ``oauth_verifier``. When the endpoint answers 2xx it returns the identity link the admin's
   browser opens: ``identity_link_url?oauth_consumer_key=…&success_call_back=…``.
2. The integration asks for a request token: ``POST /oauth/token/request``, OAuth 1.0a signed with
   the consumer secret (no token) → ``oauth_token=…&oauth_token_secret=…`` (form-encoded).
3. It trades it for the access token: ``POST /oauth/token/access`` signed with the consumer secret
   and the request token secret, ``oauth_verifier`` in the Authorization header →
   ``oauth_token=…&oauth_token_secret=…``. The four values then sign API calls (auth.py).
4. The browser goes to ``success_call_back`` (here ``/__sandbox/integrations/activated``).

Uncertain details, chosen here (also in the README): ``store_base_url`` is the sandbox's root URL
with a trailing slash; the request token is single-use; a verifier that does not match answers 401
"oauth_verifier is invalid"; token answers are ``text/plain`` form-encoded as Magento's are.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

import requests
from flask import Flask, Response, jsonify, request

from service.sandbox.magento.auth import Activated, Authenticator
from service.sandbox.magento.errors import MagentoError


def init_app(app: Flask, auth: Authenticator) -> None:
    def activate() -> Response:
        spec = request.get_json(silent=True) or {}
        endpoint, identity = str(spec.get("endpoint_url") or ""), str(spec.get("identity_link_url") or "")
        if not endpoint.startswith(("http://", "https://")) or not identity.startswith(("http://", "https://")):
            return _json({"message": 'give {"endpoint_url": "http…", "identity_link_url": "http…"}'}, 400)
        key, secret, verifier = secrets.token_hex(16), secrets.token_hex(16), secrets.token_hex(16)
        with auth.lock:
            auth.activated[key] = Activated(consumer_secret=secret, verifier=verifier)
        base = request.host_url
        try:
            answer = requests.post(endpoint, timeout=10, data={
                "oauth_consumer_key": key, "oauth_consumer_secret": secret, "store_base_url": base,
                "oauth_verifier": verifier})
        except requests.RequestException as exc:
            return _json({"message": f"the endpoint did not answer: {type(exc).__name__}"}, 502)
        if not 200 <= answer.status_code < 300:
            return _json({"message": f"the endpoint answered {answer.status_code}; the integration stays inactive"}, 502)
        callback = f"{base.rstrip('/')}/__sandbox/integrations/activated"
        link = f"{identity}{'&' if '?' in identity else '?'}" + urlencode(
            {"oauth_consumer_key": key, "success_call_back": callback})
        return _json({"consumer_key": key, "identity_link": link}, 200)

    def request_token() -> Response:
        try:
            params = auth.verify_signed(request)
        except MagentoError as exc:
            return _form_error(str(exc.message))
        found = auth.activated.get(params["oauth_consumer_key"])
        if found is None:
            return _form_error("only integrations activated through the handshake ask for tokens")
        with auth.lock:
            found.request_token, found.request_token_secret = secrets.token_hex(16), secrets.token_hex(16)
        return _form({"oauth_token": found.request_token, "oauth_token_secret": found.request_token_secret})

    def access_token() -> Response:
        header_key = _header_param("oauth_consumer_key")
        found = auth.activated.get(header_key)
        if found is None or not found.request_token:
            return _form_error("ask for a request token first")
        try:
            params = auth.verify_signed(request, found.request_token_secret)
        except MagentoError as exc:
            return _form_error(str(exc.message))
        if not secrets.compare_digest(params.get("oauth_token", ""), found.request_token):
            return _form_error("the request token is unknown or used already")
        if not secrets.compare_digest(params.get("oauth_verifier", ""), found.verifier):
            return _form_error("oauth_verifier is invalid")
        with auth.lock:
            found.request_token = found.request_token_secret = ""
            found.access_token, found.access_token_secret = secrets.token_hex(16), secrets.token_hex(16)
        return _form({"oauth_token": found.access_token, "oauth_token_secret": found.access_token_secret})

    def activated() -> Response:
        return Response("<!doctype html><title>Integration activated</title><h1>Integration activated</h1>"
                        "<p>Magento (sandbox) has the integration's tokens; you can close this window.</p>",
                        mimetype="text/html")

    app.add_url_rule("/__sandbox/integrations/activate", "integration_activate", activate, methods=["POST"])
    app.add_url_rule("/__sandbox/integrations/activated", "integration_activated", activated, methods=["GET"])
    app.add_url_rule("/oauth/token/request", "oauth_token_request", request_token, methods=["POST"])
    app.add_url_rule("/oauth/token/access", "oauth_token_access", access_token, methods=["POST"])


def _header_param(name: str) -> str:
    from oauthlib.oauth1.rfc5849 import utils as oauth_utils

    header = request.headers.get("Authorization", "")
    try:
        return dict(oauth_utils.parse_authorization_header(header)).get(name, "") if header else ""
    except ValueError:
        return ""


def _json(body: dict[str, object], status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def _form(values: dict[str, str]) -> Response:
    return Response(urlencode(values), mimetype="text/plain")


def _form_error(message: str) -> Response:
    return Response(urlencode({"oauth_problem": message}), status=401, mimetype="text/plain")
