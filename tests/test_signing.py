"""The Standard Webhooks signature on events: the spec's own vector, and properties over any id,
timestamp, body and secret (hypothesis)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from service.kernel.signing import (
    ID_HEADER,
    LEGACY_EVENT_ID_HEADER,
    LEGACY_SIGNATURE_HEADER,
    LEGACY_TIMESTAMP_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    legacy_sign,
    secret_key,
    sign,
    signed_headers,
    verify,
    verify_legacy,
)

# The example of the Standard Webhooks specification (and of its reference libraries).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

NOW = 1_800_000_000
event_ids = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=64)
timestamps = st.integers(min_value=NOW - 300, max_value=NOW + 300)
bodies = st.binary(max_size=512)
raw_secrets = st.text(min_size=1, max_size=64).filter(lambda s: not s.startswith("whsec_"))
whsec_secrets = st.binary(min_size=1, max_size=64).map(lambda b: "whsec_" + base64.b64encode(b).decode())
any_secret = raw_secrets | whsec_secrets


def test_matches_the_specification_example() -> None:
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_a_raw_secret_is_its_utf8_bytes() -> None:
    expected = hmac.new(b"s3cret", b'e1.1700000000.{"a":1}', hashlib.sha256).digest()
    assert sign("s3cret", "e1", 1700000000, b'{"a":1}') == "v1," + base64.b64encode(expected).decode()


def test_headers_are_the_standard_ones_and_verify_returns_the_signed_id() -> None:
    body = b'{"event":"order.created"}'
    headers = signed_headers("k", "e1", body)
    assert set(headers) == {"Content-Type", ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER}
    assert headers[SIGNATURE_HEADER].startswith("v1,")
    assert verify(["k"], headers, body) == "e1"


def test_stale_missing_and_malformed_headers_say_what_is_wrong() -> None:
    body = b"{}"
    old = int(time.time()) - 301
    with pytest.raises(SignatureError, match="allowed ±300"):
        verify(["k"], signed_headers("k", "e1", body, old), body)
    with pytest.raises(SignatureError, match="missing webhook-id, webhook-timestamp, webhook-signature"):
        verify(["k"], {}, body)
    with pytest.raises(SignatureError, match="Unix seconds"):
        verify(["k"], {**signed_headers("k", "e1", body), TIMESTAMP_HEADER: "yesterday"}, body)
    with pytest.raises(SignatureError, match="not base64"):
        sign("whsec_not*base64", "e1", NOW, body)


@given(secret=any_secret, event_id=event_ids, ts=timestamps, body=bodies)
def test_round_trip(secret: str, event_id: str, ts: int, body: bytes) -> None:
    assert verify([secret], signed_headers(secret, event_id, body, ts), body, now=NOW) == event_id


@given(secret=any_secret, event_id=event_ids, other_id=event_ids, ts=timestamps, other_ts=timestamps,
       body=bodies, other_body=bodies, other_secret=any_secret)
def test_any_change_of_id_timestamp_body_or_secret_fails(secret: str, event_id: str, other_id: str, ts: int,
                                                         other_ts: int, body: bytes, other_body: bytes,
                                                         other_secret: str) -> None:
    headers = signed_headers(secret, event_id, body, ts)
    if other_id != event_id:  # a captured request replayed under a new event id
        with pytest.raises(SignatureError, match="does not match"):
            verify([secret], {**headers, ID_HEADER: other_id}, body, now=NOW)
    if other_ts != ts:
        with pytest.raises(SignatureError, match="does not match"):
            verify([secret], {**headers, TIMESTAMP_HEADER: str(other_ts)}, body, now=NOW)
    if other_body != body:
        with pytest.raises(SignatureError, match="does not match"):
            verify([secret], headers, other_body, now=NOW)
    if secret_key(other_secret) != secret_key(secret):
        with pytest.raises(SignatureError, match="does not match"):
            verify([other_secret], headers, body, now=NOW)


@given(current=any_secret, previous=any_secret, stranger=any_secret, event_id=event_ids, body=bodies)
def test_rotation_accepts_the_current_and_the_previous_secret_only(current: str, previous: str, stranger: str,
                                                                   event_id: str, body: bytes) -> None:
    assume(secret_key(stranger) not in (secret_key(current), secret_key(previous)))
    for secret in (current, previous):
        assert verify([current, previous], signed_headers(secret, event_id, body, NOW), body, now=NOW) == event_id
    with pytest.raises(SignatureError):
        verify([current, previous], signed_headers(stranger, event_id, body, NOW), body, now=NOW)


@given(secret=any_secret, event_id=event_ids, body=bodies)
def test_one_matching_signature_among_several_is_enough(secret: str, event_id: str, body: bytes) -> None:
    headers = signed_headers(secret, event_id, body, NOW)
    headers[SIGNATURE_HEADER] = f"v1,AAAA {headers[SIGNATURE_HEADER]} v2,whatever"
    assert verify([secret], headers, body, now=NOW) == event_id


def test_legacy_signature_covers_timestamp_and_body_but_not_the_id() -> None:
    body = b'{"a":1}'
    legacy = {LEGACY_SIGNATURE_HEADER: legacy_sign("k", NOW, body), LEGACY_TIMESTAMP_HEADER: str(NOW),
              LEGACY_EVENT_ID_HEADER: "e1"}
    assert legacy[LEGACY_SIGNATURE_HEADER] == hmac.new(b"k", f"{NOW}.".encode() + body, hashlib.sha256).hexdigest()
    assert verify_legacy(["k"], legacy, body, now=NOW) == "e1"
    with pytest.raises(SignatureError, match="does not match"):
        verify_legacy(["k"], legacy, body + b" ", now=NOW)
