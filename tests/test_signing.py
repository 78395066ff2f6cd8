import hashlib
import hmac
import time

import pytest

from service.signing import SignatureError, sign, signed_headers, verify


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(b"s3cret", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert sign("s3cret", 1700000000, b'{"a":1}') == expected


def test_verify_accepts_fresh_and_refuses_tampered_stale_and_missing() -> None:
    body = b'{"event":"order.created"}'
    headers = signed_headers("k", "e1", body)
    verify("k", headers["X-Tillbridge-Signature"], headers["X-Tillbridge-Timestamp"], body)
    with pytest.raises(SignatureError, match="does not match"):
        verify("k", headers["X-Tillbridge-Signature"], headers["X-Tillbridge-Timestamp"], body + b" ")
    with pytest.raises(SignatureError, match="does not match"):
        verify("other", headers["X-Tillbridge-Signature"], headers["X-Tillbridge-Timestamp"], body)
    old = int(time.time()) - 301
    with pytest.raises(SignatureError, match="allowed ±300"):
        verify("k", sign("k", old, body), str(old), body)
    with pytest.raises(SignatureError, match="missing"):
        verify("k", None, None, body)
    with pytest.raises(SignatureError, match="Unix seconds"):
        verify("k", "ab", "yesterday", body)
