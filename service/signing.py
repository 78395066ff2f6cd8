"""The signature on events sent to Tillbridge (by the Magento module and the Magento sandbox).

HMAC-SHA256 with the shared secret over ``"{timestamp}.{raw body}"``, hex encoded, in
``X-Tillbridge-Signature``; the Unix timestamp in ``X-Tillbridge-Timestamp`` and the event's UUID
in ``X-Tillbridge-Event-Id``. The PHP module computes exactly the same bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Tillbridge-Signature"
TIMESTAMP_HEADER = "X-Tillbridge-Timestamp"
EVENT_ID_HEADER = "X-Tillbridge-Event-Id"


class SignatureError(Exception):
    """The request's signature headers are missing, stale or do not match."""


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, event_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, ts, body),
        TIMESTAMP_HEADER: str(ts),
        EVENT_ID_HEADER: event_id,
    }


def verify(
    secret: str,
    signature: str | None,
    timestamp: str | None,
    body: bytes,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> None:
    """Raise SignatureError with a reason an operator can act on; return None when valid."""
    if not signature or not timestamp:
        raise SignatureError(f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER} header")
    try:
        ts = int(timestamp)
    except ValueError:
        raise SignatureError(f"{TIMESTAMP_HEADER} must be Unix seconds, got {timestamp!r}") from None
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_seconds:
        raise SignatureError(
            f"timestamp {ts} is {int(current - ts)} s from server time; allowed ±{tolerance_seconds} s "
            "(check the sender's clock)"
        )
    expected = sign(secret, ts, body)
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise SignatureError("signature does not match the body (check the shared secret)")
