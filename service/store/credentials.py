"""Heartland and Magento credentials, stored encrypted with Fernet (key: TILLBRIDGE_ENCRYPTION_KEY).

`tillbridge connections set` writes them; the runtime prefers them to the environment's
TILLBRIDGE_HEARTLAND_* / TILLBRIDGE_MAGENTO_* settings. Each system's fields are one Fernet token of
their JSON, so the row holds nothing readable without the key.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select

from service.store.db import Store
from service.store.tables import StoredCredential

HOW_TO_MAKE_KEY = ('python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"')

# The fields of each system, and the setting each one stands in for.
FIELDS: dict[str, dict[str, str]] = {
    "heartland": {
        "url": "TILLBRIDGE_HEARTLAND_URL",
        "token": "TILLBRIDGE_HEARTLAND_TOKEN",
        "oauth_client_id": "TILLBRIDGE_HEARTLAND_OAUTH_CLIENT_ID",  # set when the token came from OAuth 2.0
        "oauth_client_secret": "TILLBRIDGE_HEARTLAND_OAUTH_CLIENT_SECRET",
    },
    "magento": {
        "url": "TILLBRIDGE_MAGENTO_URL",
        "store_code": "TILLBRIDGE_MAGENTO_STORE_CODE",
        "token": "TILLBRIDGE_MAGENTO_TOKEN",
        "consumer_key": "TILLBRIDGE_MAGENTO_CONSUMER_KEY",
        "consumer_secret": "TILLBRIDGE_MAGENTO_CONSUMER_SECRET",
        "access_token": "TILLBRIDGE_MAGENTO_ACCESS_TOKEN",
        "access_token_secret": "TILLBRIDGE_MAGENTO_ACCESS_TOKEN_SECRET",
    },
}
PLAIN_FIELDS = frozenset({"url", "store_code", "oauth_client_id"})  # shown in full by `connections show`


class CredentialsError(Exception):
    """The encryption key is missing or wrong, or a system or field is unknown; the message says what to do."""


def cipher(key: str | None) -> Fernet:
    if not key:
        raise CredentialsError("TILLBRIDGE_ENCRYPTION_KEY is not set; stored credentials are encrypted with it. "
                               f"Make one with: {HOW_TO_MAKE_KEY}")
    try:
        return Fernet(key.encode("ascii") if isinstance(key, str) else key)
    except (ValueError, UnicodeEncodeError):
        raise CredentialsError("TILLBRIDGE_ENCRYPTION_KEY is not a Fernet key (32 url-safe base64-encoded bytes). "
                               f"Make one with: {HOW_TO_MAKE_KEY}") from None


def _check_system(system: str) -> dict[str, str]:
    if system not in FIELDS:
        raise CredentialsError(f"unknown system {system!r}; expected one of: {', '.join(FIELDS)}")
    return FIELDS[system]


def save(store: Store, key: str | None, system: str, values: dict[str, str], actor: str = "") -> dict[str, str]:
    """Merge ``values`` into the system's stored fields (an empty value removes that field); the result."""
    fields = _check_system(system)
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise CredentialsError(f"unknown {system} field(s) {', '.join(unknown)}; expected: {', '.join(fields)}")
    fernet = cipher(key)
    with store.session() as session:
        row = session.get(StoredCredential, system, with_for_update=True)
        current = _decrypt(fernet, system, row.ciphertext) if row is not None else {}
        current.update(values)
        current = {k: v for k, v in current.items() if v}
        ciphertext = fernet.encrypt(json.dumps(current, sort_keys=True).encode("utf-8")).decode("ascii")
        if row is None:
            session.add(StoredCredential(system=system, ciphertext=ciphertext, updated_by=actor))
        else:
            row.ciphertext = ciphertext
            row.updated_by = actor
    return current


def load(store: Store, key: str | None, system: str) -> dict[str, str]:
    """The system's stored fields; empty when none are stored (then no key is needed)."""
    _check_system(system)
    with store.session() as session:
        row = session.get(StoredCredential, system)
        ciphertext = row.ciphertext if row is not None else None
    if ciphertext is None:
        return {}
    return _decrypt(cipher(key), system, ciphertext)


def remove(store: Store, system: str) -> bool:
    _check_system(system)
    with store.session() as session:
        row = session.get(StoredCredential, system)
        if row is None:
            return False
        session.delete(row)
    return True


def stored_systems(store: Store) -> list[str]:
    with store.session() as session:
        return list(session.scalars(select(StoredCredential.system).order_by(StoredCredential.system)))


def settings_for(store: Store, key: str | None, system: str) -> dict[str, str]:
    """The stored fields as the settings they stand in for (TILLBRIDGE_HEARTLAND_TOKEN, …)."""
    fields = FIELDS[system]
    return {fields[name]: value for name, value in load(store, key, system).items() if name in fields}


def mask(field: str, value: str) -> str:
    if field in PLAIN_FIELDS:
        return value
    if len(value) <= 8:
        return "•" * len(value)
    return f"{value[:2]}{'•' * 6}{value[-2:]} ({len(value)} characters)"


def _decrypt(fernet: Fernet, system: str, ciphertext: str) -> dict[str, Any]:
    try:
        return dict(json.loads(fernet.decrypt(ciphertext.encode("ascii"))))
    except InvalidToken:
        raise CredentialsError(f"the stored {system} credentials do not decrypt with TILLBRIDGE_ENCRYPTION_KEY: "
                               "set the key they were stored with, or store them again with "
                               f"`tillbridge connections set {system} …`") from None
