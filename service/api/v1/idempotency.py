"""``Idempotency-Key`` on POST, PUT and DELETE (per the IETF httpapi draft, as Stripe does it).

The first answer to a key is stored (per caller) and replayed, byte for byte with its status, for
``API_IDEMPOTENCY_HOURS``; a replay carries ``Idempotent-Replayed: true``. The same key with another
method, path, query or body is refused with 422; while the first request still runs, 409. A 5xx
answer is not stored, so the client can retry with the same key.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from typing import Any

from flask import Response, g, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from service.api.v1.errors import fail
from service.store.api_tables import ApiIdempotency
from service.store.db import Store
from service.store.tables import utcnow

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
KEPT_HEADERS = ("Content-Type", "Location", "ETag")


def fingerprint() -> str:
    raw = request.get_data(cache=True)
    try:
        body = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")) if raw else ""
    except ValueError:
        body = raw.decode("utf-8", "replace")
    text = "\n".join((request.method, request.path, request.query_string.decode("latin-1"), body))
    return hashlib.sha256(text.encode()).hexdigest()


def _key_hash(principal: str, key: str) -> str:
    return hashlib.sha256(f"{principal}\n{key}".encode()).hexdigest()


def begin(store: Store, principal: str, hours: float) -> Response | None:
    """Before a side-effecting request: the stored answer to replay, or None to go ahead (recorded)."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not KEY_PATTERN.match(key):
        fail(400, f"{HEADER} must be 1–255 visible ASCII characters (a UUID is a good choice)",
             fields={HEADER: ["1–255 visible ASCII characters"]})
    digest, print_ = _key_hash(principal, key), fingerprint()
    now = utcnow()
    with store.session() as s:
        s.execute(delete(ApiIdempotency).where(ApiIdempotency.key_hash == digest, ApiIdempotency.expires_at < now))
    try:
        with store.session() as s:
            s.add(ApiIdempotency(key_hash=digest, principal=principal[:80], method=request.method,
                                 path=request.path[:400], fingerprint=print_, status=None, body="", headers={},
                                 expires_at=now + timedelta(hours=hours)))
    except IntegrityError:
        return _replay(store, digest, print_, key)
    g.idempotency_hash = digest
    return None


def _replay(store: Store, digest: str, print_: str, key: str) -> Response:
    with store.session() as s:
        row = s.get(ApiIdempotency, digest)
        if row is None:  # expired and purged between the insert and now: ask for a retry
            fail(409, f"the {HEADER} {key!r} was in use a moment ago; retry the request")
        if row.fingerprint != print_:
            fail(422, f"the {HEADER} {key!r} was used for another request ({row.method} {row.path} with other "
                 "parameters); use a new key for a new request", error="idempotency_key_reused")
        if row.status is None:
            fail(409, f"a request with the {HEADER} {key!r} is still running; retry it in a moment",
                 error="idempotency_key_in_use", headers={"Retry-After": "1"})
        response = Response(row.body, status=row.status)
        for name, value in row.headers.items():
            response.headers[name] = value
        response.headers["Idempotent-Replayed"] = "true"
        return response


def finish(store: Store, response: Response) -> None:
    """After the first request with a key: keep its answer (not a 5xx: those may be retried)."""
    digest = g.pop("idempotency_hash", None)
    if digest is None:
        return
    with store.session() as s:
        row = s.get(ApiIdempotency, digest)
        if row is None:
            return
        if response.status_code >= 500:
            s.delete(row)
            return
        row.status = response.status_code
        row.body = _without_secrets(response.get_data(as_text=True), g.pop("idempotency_redact", ()))
        row.headers = {h: response.headers[h] for h in KEPT_HEADERS if h in response.headers}


def _without_secrets(body: str, keys: tuple[str, ...]) -> str:
    """A body to keep, with the secrets a view named (e.g. a webhook's signing secret) taken out: a
    replay then says the secret was shown once, and the database never holds it in clear."""
    if not keys:
        return body
    try:
        document = json.loads(body)
    except ValueError:
        return body
    if isinstance(document, dict):
        for key in keys:
            if key in document:
                document[key] = None
                document[f"{key}_note"] = ("shown only in the first answer to this Idempotency-Key; "
                                           "rotate it if it was lost")
    return json.dumps(document)


def purge_expired(store: Store) -> int:
    with store.session() as s:
        result: Any = s.execute(delete(ApiIdempotency).where(ApiIdempotency.expires_at < utcnow()))
        return int(result.rowcount or 0)


def count(store: Store) -> int:
    with store.session() as s:
        return len(s.scalars(select(ApiIdempotency.key_hash)).all())
