"""Setting up the Heartland and Magento connections from the connections page: save a token, connect
Heartland through OAuth 2.0 (authorization code), and test what is set.

Everything is stored through service/store/credentials.py (Fernet, TILLBRIDGE_ENCRYPTION_KEY). An
OAuth dance in progress keeps its client secret in Redis, encrypted with the same key, under the
random ``state`` it sent to Heartland, for 10 minutes: never in the session cookie, never in clear.
The token exchange follows the Heartland reference (§1.2): ``POST {api}/oauth/token`` with
client_id, client_secret, code, grant_type=authorization_code and redirect_uri.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from service.flows.context import Context
from service.kernel.errors import AuthError, SyncError
from service.store import credentials

OAUTH_KEY = "tb:oauth:heartland:"
ACTIVATION_KEY = "tb:oauth:magento-activation:"
OAUTH_SECONDS = 600


class ConnectionError_(Exception):  # noqa: N801 - ConnectionError is a builtin
    """A connection step failed; the message says what to fix."""


@dataclass
class TestResult:
    system: str
    ok: bool
    summary: str
    found: list[str] = field(default_factory=list)  # locations, store views: what the account has
    source: str = ""  # "stored (connections page)" or "environment"


def source(runtime: Context, system: str) -> str:
    try:
        stored = credentials.load(runtime.store, runtime.settings.TILLBRIDGE_ENCRYPTION_KEY, system)
    except credentials.CredentialsError:
        return "stored, but TILLBRIDGE_ENCRYPTION_KEY does not open it"
    if not stored:
        return "environment"
    return "OAuth 2.0 (connections page)" if stored.get("oauth_client_id") else "stored (connections page)"


def forget_clients(runtime: Context) -> None:
    """Every process (web, workers, scheduler) builds its clients again from the new credentials."""
    runtime.credentials_changed()


def save_token(runtime: Context, system: str, values: dict[str, str], actor: str) -> None:
    """A token (Heartland API token, Magento admin/integration token) or Magento's OAuth 1.0a set."""
    url = values.get("url", "").strip()
    if url and urlsplit(url).scheme not in ("http", "https"):
        raise ConnectionError_(f"the {system} URL must start with http:// or https://")
    cleaned = {k: v.strip() for k, v in values.items() if v.strip()}
    if system == "heartland":
        cleaned.update(oauth_client_id="", oauth_client_secret="")  # a pasted token replaces an OAuth one
    try:
        credentials.save(runtime.store, runtime.settings.TILLBRIDGE_ENCRYPTION_KEY, system, cleaned, actor)
    except credentials.CredentialsError as exc:
        raise ConnectionError_(str(exc)) from None
    forget_clients(runtime)


def heartland_oauth_start(runtime: Context, *, url: str, client_id: str, client_secret: str, redirect_uri: str,
                          authorize_url: str = "", actor: str = "") -> str:
    """Where to send the browser: Heartland's consent page, with a fresh ``state``."""
    if not (url and client_id and client_secret):
        raise ConnectionError_("give the Heartland API URL, the app's client id and its client secret")
    fernet = _cipher(runtime)
    authorize = authorize_url.strip() or default_authorize_url(url)
    state = secrets.token_urlsafe(24)
    pending = {"url": url.rstrip("/"), "client_id": client_id, "client_secret": client_secret,
               "redirect_uri": redirect_uri, "actor": actor}
    runtime.redis.set(OAUTH_KEY + state, fernet.encrypt(json.dumps(pending).encode()), ex=OAUTH_SECONDS)
    scope = runtime.settings.TILLBRIDGE_HEARTLAND_OAUTH_SCOPE
    return f"{authorize}?{urlencode({'client_id': client_id, 'scope': scope, 'redirect_uri': redirect_uri, 'state': state})}"


def default_authorize_url(api_url: str) -> str:
    """``https://retail.heartland.us/api`` → ``https://retail.heartland.us/oauth/authorize`` (reference §1.2)."""
    parts = urlsplit(api_url.rstrip("/"))
    return f"{parts.scheme}://{parts.netloc}/oauth/authorize"


def heartland_oauth_finish(runtime: Context, *, state: str, code: str, error: str = "") -> str:
    """Exchange the code for an access token and store it; returns what happened, for the page."""
    raw = runtime.redis.getdel(OAUTH_KEY + state) if state else None
    if raw is None:
        raise ConnectionError_("this sign-in with Heartland is unknown or older than 10 minutes: start again "
                               "with “Connect with OAuth”")
    pending = json.loads(_cipher(runtime).decrypt(raw))
    if error:
        raise ConnectionError_(f"Heartland answered {error}: access was not granted; nothing changed")
    timeout = (runtime.settings.HTTP_CONNECT_TIMEOUT_SECONDS, runtime.settings.HTTP_TIMEOUT_SECONDS)
    try:
        response = requests.post(f"{pending['url']}/oauth/token", timeout=timeout, data={
            "client_id": pending["client_id"], "client_secret": pending["client_secret"], "code": code,
            "grant_type": "authorization_code", "redirect_uri": pending["redirect_uri"]})
    except requests.RequestException as exc:
        raise ConnectionError_(f"Heartland's token endpoint did not answer ({type(exc).__name__})") from None
    body: dict[str, Any] = response.json() if response.headers.get("Content-Type", "").startswith(
        "application/json") else {}
    if response.status_code != 200 or not body.get("access_token"):
        why = body.get("error_description") or body.get("error") or response.text[:200]
        raise ConnectionError_(f"Heartland refused the code ({response.status_code}: {why}); start again")
    credentials.save(runtime.store, runtime.settings.TILLBRIDGE_ENCRYPTION_KEY, "heartland", {
        "url": pending["url"], "token": str(body["access_token"]), "oauth_client_id": pending["client_id"],
        "oauth_client_secret": pending["client_secret"]}, pending.get("actor", ""))
    forget_clients(runtime)
    return f"Heartland connected through OAuth 2.0 (scope: {body.get('scope') or 'none given'})"


def magento_activation_received(runtime: Context, form: dict[str, str]) -> None:
    """Magento's POST to the integration's Endpoint URL when an admin clicks Activate: the consumer
    key and secret, the store URL and the verifier, kept (encrypted, 10 minutes) until the admin's
    browser opens the identity link. Only the configured Magento's own URL is taken: a post naming
    another store is refused, so nobody can slip in a store of their own."""
    missing = [k for k in ("oauth_consumer_key", "oauth_consumer_secret", "store_base_url", "oauth_verifier")
               if not form.get(k)]
    if missing:
        raise ConnectionError_(f"Magento's activation post lacks {', '.join(missing)}")
    expected = origin(str(runtime.connection_settings("magento").TILLBRIDGE_MAGENTO_URL))
    if origin(form["store_base_url"]) != expected:
        raise ConnectionError_(f"the activation names store {origin(form['store_base_url'])}, not the configured "
                               f"Magento {expected}: set the Magento URL on the connections page first")
    pending = {k: form[k] for k in ("oauth_consumer_key", "oauth_consumer_secret", "store_base_url", "oauth_verifier")}
    runtime.redis.set(ACTIVATION_KEY + form["oauth_consumer_key"],
                      _cipher(runtime).encrypt(json.dumps(pending).encode()), ex=OAUTH_SECONDS)


def magento_activation_finish(runtime: Context, consumer_key: str, actor: str) -> str:
    """The identity link, opened by a signed-in admin: trade the verifier for the access token
    (request token, then access token, OAuth 1.0a signed) and store the integration's four values."""
    from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, Client

    raw = runtime.redis.getdel(ACTIVATION_KEY + consumer_key) if consumer_key else None
    if raw is None:
        raise ConnectionError_("no activation from Magento is waiting for this integration (or it is older than "
                               "10 minutes): click Activate on the integration in Magento again")
    pending = json.loads(_cipher(runtime).decrypt(raw))
    base = pending["store_base_url"].rstrip("/")
    timeout = (runtime.settings.HTTP_CONNECT_TIMEOUT_SECONDS, runtime.settings.HTTP_TIMEOUT_SECONDS)

    def signed_post(client: Client, path: str) -> dict[str, str]:
        from urllib.parse import parse_qsl

        url, headers, _ = client.sign(f"{base}{path}", http_method="POST")
        try:
            response = requests.post(url, headers=headers, timeout=timeout)
        except requests.RequestException as exc:
            raise ConnectionError_(f"Magento did not answer {path} ({type(exc).__name__})") from None
        values = dict(parse_qsl(response.text))
        if response.status_code != 200 or "oauth_token" not in values:
            raise ConnectionError_(f"Magento refused {path} ({response.status_code}: "
                                   f"{values.get('oauth_problem') or response.text[:200]})")
        return values

    key, secret = pending["oauth_consumer_key"], pending["oauth_consumer_secret"]
    requested = signed_post(Client(key, client_secret=secret, signature_method=SIGNATURE_HMAC_SHA256),
                            "/oauth/token/request")
    access = signed_post(Client(key, client_secret=secret, resource_owner_key=requested["oauth_token"],
                                resource_owner_secret=requested["oauth_token_secret"], verifier=pending["oauth_verifier"],
                                signature_method=SIGNATURE_HMAC_SHA256), "/oauth/token/access")
    credentials.save(runtime.store, runtime.settings.TILLBRIDGE_ENCRYPTION_KEY, "magento", {
        "url": f"{base}/rest", "token": "", "consumer_key": key, "consumer_secret": secret,
        "access_token": access["oauth_token"], "access_token_secret": access["oauth_token_secret"]}, actor)
    forget_clients(runtime)
    return "Magento integration activated: its OAuth 1.0a tokens are stored"


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def test(runtime: Context, system: str) -> TestResult:
    """Call the system with what is set now and say what the account has."""
    try:
        s = runtime.connection_settings(system)
    except credentials.CredentialsError as exc:
        return TestResult(system, False, str(exc))
    origin = source(runtime, system)
    try:
        if system == "heartland":
            from service.connectors.heartland.client import HeartlandClient

            client = HeartlandClient.from_settings(s)
            locations = client.locations()
            found = [f"{loc.get('name') or loc.get('public_id')} (#{loc['id']})" for loc in locations]
            return TestResult(system, True, f"Heartland answered at {s.TILLBRIDGE_HEARTLAND_URL}: "
                              f"{len(found)} location(s)", found, origin)
        from service.connectors.magento.client import MagentoClient

        magento = MagentoClient.from_settings(s)
        views = magento.store_codes()
        return TestResult(system, True, f"Magento answered at {s.TILLBRIDGE_MAGENTO_URL}: {len(views)} store view(s)",
                          [f"{code} (#{view_id})" for view_id, code in sorted(views.items())], origin)
    except AuthError as exc:
        again = ("re-authorise with “Connect with OAuth”" if origin.startswith("OAuth")
                 else "paste a new token")
        return TestResult(system, False, f"{system} refused the credentials ({exc}): {again}", [], origin)
    except SyncError as exc:
        return TestResult(system, False, f"{system} did not answer as expected: {exc}", [], origin)


def _cipher(runtime: Context) -> Any:
    try:
        return credentials.cipher(runtime.settings.TILLBRIDGE_ENCRYPTION_KEY)
    except credentials.CredentialsError as exc:
        raise ConnectionError_(str(exc)) from None
