"""The signature on events sent to Tillbridge (by the Magento module and the Magento sandbox).

Standard Webhooks (https://www.standardwebhooks.com): HMAC-SHA256 over
``"{webhook-id}.{webhook-timestamp}.{raw body}"``, base64 encoded, sent as
``webhook-signature: v1,<base64>`` (several space-separated signatures may be sent); the event's
UUID in ``webhook-id`` and the Unix timestamp in ``webhook-timestamp``. Because the id is signed,
a captured request replayed under a new event id fails the signature. A secret is either
``whsec_<base64 of the key>`` (the Standard Webhooks form) or any other string, whose UTF-8 bytes
are the key. The PHP module computes exactly the same bytes.

The legacy headers (``X-Tillbridge-Signature``: hex HMAC over ``"{timestamp}.{body}"``, which did not
cover the event id) are accepted only when ACCEPT_LEGACY_SIGNATURES is on, for one release.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = "whsec_"

LEGACY_SIGNATURE_HEADER = "X-Tillbridge-Signature"
LEGACY_TIMESTAMP_HEADER = "X-Tillbridge-Timestamp"
LEGACY_EVENT_ID_HEADER = "X-Tillbridge-Event-Id"


class SignatureError(Exception):
    """The request's signature headers are missing, stale or do not match."""


def secret_key(secret: str) -> bytes:
    """The HMAC key of a secret: the decoded base64 after ``whsec_``, else the secret's UTF-8 bytes."""
    if secret.startswith(SECRET_PREFIX):
        encoded = secret[len(SECRET_PREFIX):]
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise SignatureError("the webhook secret starts with whsec_ but the rest is not base64; give "
                                 "whsec_<base64 of the key> or a secret without that prefix") from None
    else:
        key = secret.encode("utf-8")
    if not key:
        raise SignatureError("the webhook secret is empty; set TILLBRIDGE_WEBHOOK_SECRET")
    return key


def sign(secret: str, event_id: str, timestamp: int | str, body: bytes) -> str:
    """``v1,<base64>``: the Standard Webhooks signature of one event."""
    moment = datetime.fromtimestamp(int(timestamp), tz=UTC)
    return Webhook(secret_key(secret)).sign(event_id, moment, body)


def signed_headers(secret: str, event_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers a sender puts on one event (with the JSON content type)."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        ID_HEADER: event_id,
        TIMESTAMP_HEADER: str(ts),
        SIGNATURE_HEADER: sign(secret, event_id, ts, body),
    }


def _lowered(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _timestamp(raw: str, header: str, tolerance_seconds: int, now: float | None) -> int:
    try:
        ts = int(raw.strip())
    except ValueError:
        raise SignatureError(f"{header} must be Unix seconds, got {raw[:40]!r}") from None
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_seconds:
        raise SignatureError(
            f"timestamp {ts} is {int(current - ts)} s from server time; allowed ±{tolerance_seconds} s "
            "(check the sender's clock)"
        )
    return ts


def verify(
    secrets: Iterable[str],
    headers: Mapping[str, str],
    body: bytes,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> str:
    """The verified event id; SignatureError with a reason an operator can act on otherwise.

    Any of ``secrets`` may have signed (rotation: the current secret and the previous one), and any
    of the space-separated ``v1,`` signatures in the header may match. Header names match in any case.
    """
    headers = _lowered(headers)
    event_id = (headers.get(ID_HEADER) or "").strip()
    raw_ts = headers.get(TIMESTAMP_HEADER) or ""
    raw_signatures = headers.get(SIGNATURE_HEADER) or ""
    missing = [name for name, value in ((ID_HEADER, event_id), (TIMESTAMP_HEADER, raw_ts),
                                        (SIGNATURE_HEADER, raw_signatures)) if not value]
    if missing:
        raise SignatureError(f"missing {', '.join(missing)} header(s) (Standard Webhooks signature)")
    ts = _timestamp(raw_ts, TIMESTAMP_HEADER, tolerance_seconds, now)
    offered = [s.encode("utf-8", "replace") for s in raw_signatures.split() if s]
    for secret in secrets:
        expected = sign(secret, event_id, ts, body).encode("ascii")
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return event_id
    raise SignatureError("signature does not match the body, event id and timestamp (check the shared secret)")


def legacy_sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The pre-Standard-Webhooks signature: hex HMAC-SHA256 over ``"{timestamp}.{body}"``."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify_legacy(
    secrets: Iterable[str],
    headers: Mapping[str, str],
    body: bytes,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> str:
    """The event id of a request signed the legacy way (the id is not covered by that signature)."""
    headers = _lowered(headers)
    signature = (headers.get(LEGACY_SIGNATURE_HEADER.lower()) or "").strip().lower()
    raw_ts = headers.get(LEGACY_TIMESTAMP_HEADER.lower()) or ""
    if not signature or not raw_ts:
        raise SignatureError(f"missing {LEGACY_SIGNATURE_HEADER} or {LEGACY_TIMESTAMP_HEADER} header")
    ts = _timestamp(raw_ts, LEGACY_TIMESTAMP_HEADER, tolerance_seconds, now)
    for secret in secrets:
        if hmac.compare_digest(legacy_sign(secret, ts, body).encode(), signature.encode("utf-8", "replace")):
            return (headers.get(LEGACY_EVENT_ID_HEADER.lower()) or "").strip()
    raise SignatureError("signature does not match the body (check the shared secret)")
