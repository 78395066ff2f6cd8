"""Heartland and Magento credentials stored encrypted: the raw row holds no secret, the runtime uses
them over the environment's, and a missing or wrong key says how to fix it."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from sqlalchemy import text

from service.app.factory import create_app
from service.cli.main import main
from service.store import credentials

TOKEN = "hl-token-4e1f9a7c2b8d0e5f3a6c"
CONSUMER_SECRET = "mg-consumer-secret-8b2d6f0a4c"


def test_the_raw_row_holds_no_secret_and_the_runtime_prefers_stored_credentials(runtime: Any) -> None:
    key = Fernet.generate_key().decode()
    runtime.reconfigure(TILLBRIDGE_ENCRYPTION_KEY=key)
    credentials.save(runtime.store, key, "heartland", {"url": "https://acme.retail.heartland.us/api", "token": TOKEN})
    with runtime.store.engine.connect() as connection:
        raw = [str(tuple(row)) for row in connection.execute(text("SELECT * FROM credentials"))]
    assert len(raw) == 1
    assert TOKEN not in raw[0] and "acme" not in raw[0]

    assert runtime.heartland.base_url.startswith("https://acme.retail.heartland.us/api")
    assert runtime.connection_settings("heartland").TILLBRIDGE_HEARTLAND_TOKEN == TOKEN
    assert runtime.connection_settings("magento").TILLBRIDGE_MAGENTO_TOKEN == runtime.settings.TILLBRIDGE_MAGENTO_TOKEN  # nothing stored for Magento: the environment's


def test_stored_oauth_replaces_the_environments_token(runtime: Any) -> None:
    key = Fernet.generate_key().decode()
    runtime.reconfigure(TILLBRIDGE_ENCRYPTION_KEY=key)
    credentials.save(runtime.store, key, "magento", {"consumer_key": "ck", "consumer_secret": CONSUMER_SECRET,
                                                     "access_token": "at", "access_token_secret": "ats"})
    magento = runtime.connection_settings("magento")
    assert magento.TILLBRIDGE_MAGENTO_TOKEN == ""
    assert magento.TILLBRIDGE_MAGENTO_CONSUMER_SECRET == CONSUMER_SECRET


def test_a_missing_or_wrong_key_says_how_to_make_one(runtime: Any) -> None:
    with pytest.raises(credentials.CredentialsError, match="TILLBRIDGE_ENCRYPTION_KEY is not set.*Fernet.generate_key"):
        credentials.save(runtime.store, "", "heartland", {"token": TOKEN})
    with pytest.raises(credentials.CredentialsError, match="not a Fernet key"):
        credentials.save(runtime.store, "not-a-key", "heartland", {"token": TOKEN})
    credentials.save(runtime.store, Fernet.generate_key().decode(), "heartland", {"token": TOKEN})
    with pytest.raises(credentials.CredentialsError, match="do not decrypt"):
        credentials.load(runtime.store, Fernet.generate_key().decode(), "heartland")


def test_cli_sets_and_shows_masked_values(settings: dict[str, Any]) -> None:
    env = {**{k: str(v) for k, v in settings.items()}, "TILLBRIDGE_ENCRYPTION_KEY": Fernet.generate_key().decode()}
    runner = CliRunner()
    stored = runner.invoke(main, ["connections", "set", "magento", "--url", "https://shop.example/rest",
                                  "--token", "-"], input=f"{CONSUMER_SECRET}\n", env=env)
    assert stored.exit_code == 0, stored.output
    assert CONSUMER_SECRET not in stored.output
    shown = runner.invoke(main, ["connections", "show"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "https://shop.example/rest" in shown.output
    assert CONSUMER_SECRET not in shown.output and "mg••••••4c (29 characters)" in shown.output
    assert "heartland: nothing stored" in shown.output
    no_key = runner.invoke(main, ["connections", "show"], env={**env, "TILLBRIDGE_ENCRYPTION_KEY": ""})
    assert no_key.exit_code == 1 and "TILLBRIDGE_ENCRYPTION_KEY is not set" in no_key.output
    app = create_app({**settings, "AUTO_MIGRATE": False, "TILLBRIDGE_ENCRYPTION_KEY": env["TILLBRIDGE_ENCRYPTION_KEY"]})
    assert app.extensions["tillbridge"].connection_settings("magento").TILLBRIDGE_MAGENTO_TOKEN == CONSUMER_SECRET
    app.extensions["tillbridge"].store.dispose()
