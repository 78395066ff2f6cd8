"""Who may call the sandbox: OAuth 1.0a integrations, integration tokens as Bearer, admin tokens.

Follows Magento 2.4: OAuth 1.0a with HMAC-SHA1 or HMAC-SHA256 over the RFC 5849 base string (the
JSON body is not signed), timestamps within ±600 s, a nonce used twice by one consumer refused; the
integration's access token works as a Bearer token only when ``enable_integration_as_bearer`` is on;
admin tokens from ``POST /V1/integration/admin/token`` last 4 hours. A caller without access to a
route's ACL resource gets 401 "The consumer isn't authorized to access %resources.".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

from flask import Request
from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849 import utils as oauth_utils

from service.sandbox.magento.errors import MagentoError

TIME_DEVIATION = 600
ADMIN_TOKEN_TTL = 4 * 3600
DIGESTS = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}


def oauth_sign(method: str, base_string: str, consumer_secret: str, token_secret: str) -> str:
    """RFC 5849 §3.4.2: HMAC keyed with the escaped secrets joined by "&", base64 encoded."""
    key = f"{oauth_utils.escape(consumer_secret)}&{oauth_utils.escape(token_secret)}"
    digest = hmac.new(key.encode("utf-8"), base_string.encode("utf-8"), DIGESTS[method]).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True)
class Principal:
    kind: str  # "integration" or "admin"
    name: str
    resources: frozenset[str] | None  # None: every resource (Magento_Backend::all)

    def allowed(self, resource: str) -> bool:
        return self.resources is None or resource in self.resources


@dataclass
class Credentials:
    consumer_key: str = "tillbridge-consumer-key"
    consumer_secret: str = "tillbridge-consumer-secret"
    access_token: str = "magento-dev-token"
    access_token_secret: str = "tillbridge-access-token-secret"
    enable_integration_as_bearer: bool = True
    integration_resources: frozenset[str] | None = None
    admin_users: dict[str, str] = field(default_factory=lambda: {"admin": "admin123"})
    two_factor_auth: bool = False


@dataclass
class Activated:
    """An integration activated through the handshake (activation.py): its consumer and, once the
    token exchange is done, its access token."""

    consumer_secret: str
    verifier: str
    request_token: str = ""
    request_token_secret: str = ""
    access_token: str = ""
    access_token_secret: str = ""


class Authenticator:
    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials
        self.lock = threading.Lock()
        self.nonces: dict[tuple[str, str], float] = {}
        self.admin_tokens: dict[str, tuple[str, float]] = {}
        self.consumer_id = 1
        self.activated: dict[str, Activated] = {}  # consumer key → integration activated by the handshake

    def consumer_secret(self, consumer_key: str) -> str | None:
        if secrets.compare_digest(consumer_key, self.credentials.consumer_key):
            return self.credentials.consumer_secret
        found = self.activated.get(consumer_key)
        return found.consumer_secret if found else None

    def token_secret(self, consumer_key: str, token: str) -> str | None:
        """The secret of ``token`` when it is ``consumer_key``'s access token."""
        if secrets.compare_digest(consumer_key, self.credentials.consumer_key):
            ok = secrets.compare_digest(token, self.credentials.access_token)
            return self.credentials.access_token_secret if ok else None
        found = self.activated.get(consumer_key)
        if found and found.access_token and secrets.compare_digest(token, found.access_token):
            return found.access_token_secret
        return None

    def reset(self) -> None:
        with self.lock:
            self.nonces.clear()
            self.admin_tokens.clear()

    # -- admin tokens --------------------------------------------------------------------------
    def issue_admin_token(self, username: str, password: str) -> str:
        expected = self.credentials.admin_users.get(username)
        if expected is None or not secrets.compare_digest(expected, password):
            raise MagentoError(
                "The account sign-in was incorrect or your account is disabled temporarily. "
                "Please wait and try again later.",
                status=401,
            )
        if self.credentials.two_factor_auth:
            raise MagentoError(
                "Please use the 2fa provider-specific endpoints to obtain a token.",
                {"active_providers": ["google"]},
                status=401,
            )
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.admin_tokens[token] = (username, time.time() + ADMIN_TOKEN_TTL)
        return token

    # -- per request ---------------------------------------------------------------------------
    def authenticate(self, request: Request) -> Principal | None:
        header = request.headers.get("Authorization", "")
        scheme, _, rest = header.partition(" ")
        if scheme.lower() == "bearer":
            return self._bearer(rest.strip())
        if scheme.lower() == "oauth":
            return self._oauth(request, header)
        return None

    def _integration(self) -> Principal:
        return Principal("integration", "tillbridge", self.credentials.integration_resources)

    def _bearer(self, token: str) -> Principal | None:
        creds = self.credentials
        activated = any(a.access_token and secrets.compare_digest(token, a.access_token)
                        for a in list(self.activated.values()))
        if token and (secrets.compare_digest(token, creds.access_token) or activated):
            return self._integration() if creds.enable_integration_as_bearer else None
        with self.lock:
            found = self.admin_tokens.get(token)
            if found and found[1] < time.time():
                del self.admin_tokens[token]
                found = None
        if found:
            return Principal("admin", found[0], None)
        return None

    def _oauth(self, request: Request, header: str) -> Principal:
        try:
            params = {k: oauth_utils.unescape(v) for k, v in oauth_utils.parse_authorization_header(header)}
        except ValueError:
            raise MagentoError("The consumer isn't authorized to access %resources.",
                               {"resources": "OAuth"}, status=401) from None
        version = params.get("oauth_version")
        if version is not None and version != "1.0":
            raise MagentoError('The "%1" Oauth version isn\'t supported.', [version])
        method = params.get("oauth_signature_method", "")
        if method not in DIGESTS:
            raise MagentoError("Signature method %1 is not supported", [method])
        for name in ("oauth_consumer_key", "oauth_token", "oauth_nonce", "oauth_timestamp", "oauth_signature"):
            if not params.get(name):
                raise MagentoError('"%fieldName" is required. Enter and try again.', {"fieldName": name})
        consumer_secret = self.consumer_secret(params["oauth_consumer_key"])
        if consumer_secret is None:
            raise MagentoError("A consumer having the specified key does not exist", status=401)
        self._check_nonce(params["oauth_consumer_key"], params["oauth_nonce"], params["oauth_timestamp"])
        token_secret = self.token_secret(params["oauth_consumer_key"], params["oauth_token"])
        if token_secret is None:
            raise MagentoError("Specified token does not exist", status=401)
        collected = oauth_signature.collect_parameters(
            uri_query=request.query_string.decode("latin-1"),
            body=request.form.items(multi=True) if request.mimetype == "application/x-www-form-urlencoded" else None,
            headers={"Authorization": header},
            exclude_oauth_signature=True,
        )
        base = oauth_signature.signature_base_string(
            request.method.upper(),
            oauth_signature.base_string_uri(request.base_url),
            oauth_signature.normalize_parameters(collected),
        )
        expected = oauth_sign(method, base, consumer_secret, token_secret)
        if not oauth_signature.safe_string_equals(expected, params["oauth_signature"]):
            raise MagentoError("The signature is invalid. Verify and try again.", status=401)
        return self._integration()

    def verify_signed(self, request: Request, token_secret: str = "") -> dict[str, str]:
        """The OAuth parameters of a token-exchange request (/oauth/token/request|access), its signature
        checked with the consumer's secret and ``token_secret``; raises MagentoError otherwise."""
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("oauth "):
            raise MagentoError("An OAuth Authorization header is required", status=401)
        params = {k: oauth_utils.unescape(v) for k, v in oauth_utils.parse_authorization_header(header)}
        consumer_secret = self.consumer_secret(params.get("oauth_consumer_key", ""))
        if consumer_secret is None:
            raise MagentoError("A consumer having the specified key does not exist", status=401)
        method = params.get("oauth_signature_method", "")
        if method not in DIGESTS:
            raise MagentoError("Signature method %1 is not supported", [method])
        self._check_nonce(params["oauth_consumer_key"], params.get("oauth_nonce", ""), params.get("oauth_timestamp", ""))
        collected = oauth_signature.collect_parameters(
            uri_query=request.query_string.decode("latin-1"),
            body=request.form.items(multi=True) if request.mimetype == "application/x-www-form-urlencoded" else None,
            headers={"Authorization": header}, exclude_oauth_signature=True)
        base = oauth_signature.signature_base_string(
            request.method.upper(), oauth_signature.base_string_uri(request.base_url),
            oauth_signature.normalize_parameters(collected))
        if not oauth_signature.safe_string_equals(oauth_sign(method, base, consumer_secret, token_secret),
                                                  params.get("oauth_signature", "")):
            raise MagentoError("The signature is invalid. Verify and try again.", status=401)
        return params

    def _check_nonce(self, consumer_key: str, nonce: str, timestamp: str) -> None:
        try:
            stamp = int(timestamp)
        except ValueError:
            raise MagentoError("The timestamp is invalid. Verify and try again.") from None
        now = time.time()
        if abs(now - stamp) > TIME_DEVIATION:
            raise MagentoError("The timestamp is invalid. Verify and try again.")
        with self.lock:
            if len(self.nonces) > 100_000:
                cutoff = now - 2 * TIME_DEVIATION
                self.nonces = {k: v for k, v in self.nonces.items() if v >= cutoff}
            key = (consumer_key, nonce)
            if key in self.nonces:
                raise MagentoError(
                    "The nonce is already being used by the consumer with ID %1. Verify the nonce and try again.",
                    [self.consumer_id],
                )
            self.nonces[key] = now
