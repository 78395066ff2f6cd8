"""The secrets a deployment must set itself, and the check that refuses to run without them.

``tillbridge web``, ``worker`` and ``scheduler`` call :func:`require` before anything starts: each of
SECRET_KEY (signs session cookies), TILLBRIDGE_WEBHOOK_SECRET (signs Magento events) and
TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN (the secret in Heartland's webhook URL) must be set, at least
32 bytes long, and not a value published in this repository (service/settings/defaults.py, the sandboxes).
``tillbridge demo`` generates random ones per run and hands them to its processes; the tests set
their own. The app itself (``create_app``) still starts with the defaults, so tests can build it
directly, but never trusts them: a published session key is swapped for a random one and a
published webhook secret or token verifies nothing.
"""

from __future__ import annotations

import secrets
from typing import Any

from service.kernel.signing import SignatureError, secret_key
from service.settings.defaults import Settings

REQUIRED = ("SECRET_KEY", "TILLBRIDGE_WEBHOOK_SECRET", "TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN")
# Checked the same way when set: a rotation must not fall back to a weak secret.
OPTIONAL = ("TILLBRIDGE_WEBHOOK_SECRET_PREVIOUS",)
MIN_BYTES = 32
HOW_TO_MAKE = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'

# Every value this repository has ever shipped as a default for these settings.
_DEFAULTS = Settings()
PUBLISHED = frozenset({
    _DEFAULTS.SECRET_KEY,
    _DEFAULTS.TILLBRIDGE_WEBHOOK_SECRET,
    _DEFAULTS.TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN,
    "tillbridge-dev-session-key",
    "tillbridge-dev-secret",
    "tillbridge-dev-heartland-hook",
})


def is_published(value: str) -> bool:
    return value.strip() in PUBLISHED


def usable(value: Any) -> bool:
    """Set and not published: a value ingest may trust (length is the startup check's business)."""
    return isinstance(value, str) and bool(value.strip()) and not is_published(value)


def problem(name: str, value: Any) -> str | None:
    """Why one secret setting is not fit for a real deployment, or None."""
    text = "" if value is None else str(value)
    if not text.strip():
        return f"{name} is not set"
    if is_published(text):
        return f"{name} is a published default value"
    if name.startswith("TILLBRIDGE_WEBHOOK_SECRET"):
        try:
            length = len(secret_key(text))
        except SignatureError as exc:
            return f"{name}: {exc}"
    else:
        length = len(text.encode("utf-8"))
    if length < MIN_BYTES:
        return f"{name} is {length} bytes long; at least {MIN_BYTES} are needed"
    return None


def problems(settings: Settings) -> list[str]:
    found = [problem(name, getattr(settings, name)) for name in REQUIRED]
    found += [problem(name, getattr(settings, name)) for name in OPTIONAL if getattr(settings, name)]
    return [p for p in found if p is not None]


class InsecureSecrets(Exception):
    """A required secret is missing, short or published; the message says how to fix each."""


def require(settings: Settings) -> None:
    found = problems(settings)
    if found:
        lines = "\n".join(f"  - {p}" for p in found)
        raise InsecureSecrets(
            f"refusing to start: these secrets are unsafe for a real merchant:\n{lines}\n"
            f"Set each in the environment to a random value of at least {MIN_BYTES} bytes, made with:\n"
            f"  {HOW_TO_MAKE}\n"
            "(`tillbridge demo` makes its own per run; TILLBRIDGE_WEBHOOK_SECRET must be the same in the "
            "Magento module.)"
        )


def generate() -> str:
    return secrets.token_urlsafe(MIN_BYTES)


def session_key(configured: str) -> str:
    """The key that signs session cookies: a published one would let anyone forge an admin session,
    so it is replaced by a random key for this process (sessions then last as long as the process)."""
    return generate() if not usable(configured) else configured
