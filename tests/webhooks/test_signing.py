"""Signatures: a known HMAC vector, the header format, and every way a verification must fail."""

import pytest

from omniloom.webhooks.signing import compute_signature, sign, verify

SECRET = "whsec_0123456789abcdef"
BODY = b'{"id":"evt_1","type":"order.created"}'
SENT_AT = 1796032800  # 2026-11-30T10:00:00Z
# printf '%s' '1796032800.{"id":"evt_1","type":"order.created"}' | openssl dgst -sha256 -hmac whsec_0123456789abcdef
KNOWN = "9fddebb0393281890ad2a8e05438bbd3067e8355831fc19ca3556a1c4be40521"


def test_the_signature_is_the_hmac_sha256_of_timestamp_dot_body() -> None:
    assert compute_signature(BODY, secret=SECRET, timestamp=SENT_AT) == KNOWN
    assert sign(BODY, secret=SECRET, timestamp=SENT_AT) == f"t={SENT_AT},v1={KNOWN}"


def test_a_genuine_signature_verifies_within_the_tolerance() -> None:
    header = sign(BODY, secret=SECRET, timestamp=SENT_AT)

    assert verify(header, BODY, secret=SECRET, now=SENT_AT) is True
    assert verify(header, BODY, secret=SECRET, now=SENT_AT + 300) is True
    assert verify(header, BODY, secret=SECRET, now=SENT_AT - 300) is True


@pytest.mark.parametrize("now", [SENT_AT + 301, SENT_AT - 301, SENT_AT + 86_400])
def test_a_signature_outside_the_tolerance_is_refused(now: int) -> None:
    assert verify(sign(BODY, secret=SECRET, timestamp=SENT_AT), BODY, secret=SECRET, now=now) is False


def test_a_tampered_body_or_a_wrong_secret_is_refused() -> None:
    header = sign(BODY, secret=SECRET, timestamp=SENT_AT)

    assert verify(header, BODY.replace(b"created", b"cancelled"), secret=SECRET, now=SENT_AT) is False
    assert verify(header, BODY + b" ", secret=SECRET, now=SENT_AT) is False
    assert verify(header, BODY, secret="whsec_another-secret-00", now=SENT_AT) is False


def test_a_moved_timestamp_breaks_the_signature() -> None:
    header = f"t={SENT_AT + 1},v1={KNOWN}"

    assert verify(header, BODY, secret=SECRET, now=SENT_AT) is False


@pytest.mark.parametrize("header", ["", "garbage", f"v1={KNOWN}", f"t={SENT_AT}", f"t=soon,v1={KNOWN}",
                                    f"t={SENT_AT},v0={KNOWN}", f"t={SENT_AT},v1={KNOWN[:-1]}"])
def test_a_malformed_header_is_refused(header: str) -> None:
    assert verify(header, BODY, secret=SECRET, now=SENT_AT) is False


def test_any_of_several_v1_signatures_may_match() -> None:
    header = f"t={SENT_AT},v1={'0' * 64},v1={KNOWN}"

    assert verify(header, BODY, secret=SECRET, now=SENT_AT) is True
