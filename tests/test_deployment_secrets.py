"""Published or weak secrets open nothing: the processes refuse to start on them, a session cookie
forged with the old default key gets no page, and an event signed with the default secret is refused."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import func, select

from service.app.factory import create_app
from service.cli.main import main
from service.kernel.signing import signed_headers
from service.settings import Settings, load_settings
from service.settings.secrets import HOW_TO_MAKE, REQUIRED, generate, problems
from service.store.tables import InboxEvent
from service.store.users import create_user
from tests.web.support import sign_in

DEFAULTS = Settings()
OLD_DEFAULT_SESSION_KEY = "tillbridge-dev-session-key"


def strong() -> dict[str, str]:
    return {name: generate() for name in REQUIRED}


@pytest.mark.parametrize("command", [["web"], ["worker", "--burst"], ["scheduler", "--once"]])
def test_processes_refuse_to_start_naming_each_bad_secret(command: list[str], settings: dict[str, Any]) -> None:
    env = {**{k: str(v) for k, v in settings.items()},
           "SECRET_KEY": DEFAULTS.SECRET_KEY,  # published
           "TILLBRIDGE_WEBHOOK_SECRET": "short",
           "TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN": ""}
    result = CliRunner().invoke(main, command, env=env)
    assert result.exit_code == 1, result.output
    assert "SECRET_KEY is a published default value" in result.output
    assert "TILLBRIDGE_WEBHOOK_SECRET is 5 bytes long; at least 32 are needed" in result.output
    assert "TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN is not set" in result.output
    assert HOW_TO_MAKE in result.output


def test_a_process_with_strong_secrets_starts(settings: dict[str, Any]) -> None:
    env = {**{k: str(v) for k, v in settings.items()}, **strong(), "POLL_INTERVAL_SECONDS": "0",
           "DRIFT_INTERVAL_SECONDS": "0"}
    result = CliRunner().invoke(main, ["scheduler", "--once"], env=env)
    assert result.exit_code == 0, result.output
    assert "reclaimed 0" in result.output


def test_every_published_default_and_a_weak_rotation_secret_are_problems() -> None:
    published = {"SECRET_KEY": DEFAULTS.SECRET_KEY, "TILLBRIDGE_WEBHOOK_SECRET": DEFAULTS.TILLBRIDGE_WEBHOOK_SECRET,
                 "TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN": DEFAULTS.TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN}
    assert len(problems(load_settings(published, environ={}))) == 3
    assert problems(load_settings({**strong(), "TILLBRIDGE_WEBHOOK_SECRET_PREVIOUS": "old"}, environ={})) == [
        "TILLBRIDGE_WEBHOOK_SECRET_PREVIOUS is 3 bytes long; at least 32 are needed"]
    # A whsec_ secret counts by its decoded key: 40 base64 characters are 30 bytes, 44 are 33.
    assert problems(load_settings({**strong(), "TILLBRIDGE_WEBHOOK_SECRET": "whsec_" + "A" * 40}, environ={})) == [
        "TILLBRIDGE_WEBHOOK_SECRET is 30 bytes long; at least 32 are needed"]
    assert problems(load_settings({**strong(), "TILLBRIDGE_WEBHOOK_SECRET": "whsec_" + "A" * 44}, environ={})) == []


def forged_cookie(payload: dict[str, Any], key: str) -> str:
    signer = Flask("forger")
    signer.secret_key = key
    serializer = SecureCookieSessionInterface().get_signing_serializer(signer)
    assert serializer is not None
    return str(serializer.dumps(payload))


@pytest.fixture
def web_app(settings: dict[str, Any], tmp_path: Path) -> Any:
    """The app as a misconfigured deployment would build it: SECRET_KEY left at the old default."""
    app = create_app({**settings, "AUTO_MIGRATE": False, "SECRET_KEY": OLD_DEFAULT_SESSION_KEY})
    create_user(app.extensions["tillbridge"].store, "admin", "correct horse battery", "admin")
    yield app
    app.extensions["tillbridge"].store.dispose()


def test_a_cookie_forged_with_the_old_default_key_gets_no_page(web_app: Flask) -> None:
    client = web_app.test_client()
    client.set_cookie("session", forged_cookie({"_user_id": "1"}, OLD_DEFAULT_SESSION_KEY))
    for page in ("/", "/items", "/dead-letters"):
        response = client.get(page)
        assert response.status_code in (302, 401), (page, response.status_code)
        assert "/login" in (response.headers.get("Location") or "/login")


def test_only_a_real_sign_in_opens_pages_even_under_the_apps_own_key(settings: dict[str, Any]) -> None:
    # The control for the test above: a signed cookie alone opens nothing, even under the key the app
    # really uses (sessions are records in the store); signing in with the password does.
    key = generate()
    app = create_app({**settings, "AUTO_MIGRATE": False, "SECRET_KEY": key})
    create_user(app.extensions["tillbridge"].store, "admin", "correct horse battery", "admin")
    forged = app.test_client()
    forged.set_cookie("session", forged_cookie({"_user_id": "1"}, key))
    assert forged.get("/").status_code == 302
    real = app.test_client()
    assert sign_in(real, "admin", "correct horse battery").status_code == 302
    assert real.get("/").status_code == 200
    app.extensions["tillbridge"].store.dispose()


def inbox_count(app: Flask) -> int:
    with app.extensions["tillbridge"].store.session() as s:
        return int(s.scalar(select(func.count()).select_from(InboxEvent)) or 0)


def event_body() -> bytes:
    return json.dumps({"event": "order.created", "occurred_at": "2026-12-07T10:00:00+00:00", "store_code": "default",
                       "data": {"entity_id": 1, "grand_total": 5000}}).encode()


def test_an_event_signed_with_the_default_secret_is_refused(settings: dict[str, Any]) -> None:
    body = event_body()
    default_signed = signed_headers(DEFAULTS.TILLBRIDGE_WEBHOOK_SECRET, str(uuid.uuid4()), body)

    configured = create_app({**settings, "AUTO_MIGRATE": False, "TILLBRIDGE_WEBHOOK_SECRET": generate()})
    refused = configured.test_client().post("/webhooks/magento", data=body, headers=default_signed)
    assert refused.status_code == 401 and refused.json["error"] == "bad_signature"

    # Even an app left on the default verifies nothing with it.
    left_on_default = create_app({**settings, "AUTO_MIGRATE": False,
                                  "TILLBRIDGE_WEBHOOK_SECRET": DEFAULTS.TILLBRIDGE_WEBHOOK_SECRET})
    refused = left_on_default.test_client().post("/webhooks/magento", data=body, headers=default_signed)
    assert refused.status_code == 503 and "TILLBRIDGE_WEBHOOK_SECRET" in refused.json["message"]
    assert inbox_count(configured) == 0
    hook = left_on_default.test_client().post(
        f"/webhooks/heartland/{DEFAULTS.TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN}", json={"id": 1})
    assert hook.status_code == 401
    for app in (configured, left_on_default):
        app.extensions["tillbridge"].store.dispose()


def test_rotation_accepts_the_previous_secret_and_legacy_headers_only_when_allowed(settings: dict[str, Any]) -> None:
    from service.kernel.signing import legacy_sign

    current, previous = generate(), generate()
    app = create_app({**settings, "AUTO_MIGRATE": False, "TILLBRIDGE_WEBHOOK_SECRET": current,
                      "TILLBRIDGE_WEBHOOK_SECRET_PREVIOUS": previous})
    client = app.test_client()
    body = event_body()
    assert client.post("/webhooks/magento", data=body,
                       headers=signed_headers(previous, str(uuid.uuid4()), body)).status_code == 202
    captured = signed_headers(current, str(uuid.uuid4()), body)
    assert client.post("/webhooks/magento", data=body, headers=captured).status_code == 202
    replayed = {**captured, "webhook-id": str(uuid.uuid4())}
    assert client.post("/webhooks/magento", data=body, headers=replayed).status_code == 401

    ts = captured["webhook-timestamp"]
    legacy = {"Content-Type": "application/json", "X-Tillbridge-Signature": legacy_sign(current, ts, body),
              "X-Tillbridge-Timestamp": ts, "X-Tillbridge-Event-Id": str(uuid.uuid4())}
    refused = client.post("/webhooks/magento", data=body, headers=legacy)
    assert refused.status_code == 401 and "ACCEPT_LEGACY_SIGNATURES" in refused.json["message"]
    app.extensions["tillbridge"].reconfigure(ACCEPT_LEGACY_SIGNATURES=True)
    assert client.post("/webhooks/magento", data=body, headers=legacy).status_code == 202
    app.extensions["tillbridge"].store.dispose()


def test_processes_refuse_a_redis_that_evicts_keys(settings: dict[str, Any]) -> None:
    from redis import Redis

    redis = Redis.from_url(settings["REDIS_URL"])
    before = redis.config_get("maxmemory-policy")["maxmemory-policy"]
    env = {**{k: str(v) for k, v in settings.items()}, **strong(), "POLL_INTERVAL_SECONDS": "0",
           "DRIFT_INTERVAL_SECONDS": "0"}
    try:
        redis.config_set("maxmemory-policy", "allkeys-lru")
        result = CliRunner().invoke(main, ["scheduler", "--once"], env=env)
    finally:
        redis.config_set("maxmemory-policy", before)
    assert result.exit_code == 1, result.output
    assert "Redis maxmemory-policy is 'allkeys-lru': set it to noeviction" in result.output
