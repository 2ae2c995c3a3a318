"""Webhook signatures: ``Omniloom-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``.

Pure functions: the sender signs with the subscription's shared secret; a receiver verifies with the same secret,
refusing a signature older or newer than the tolerance (a replayed request) and comparing in constant time.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "Omniloom-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


def compute_signature(body: bytes, *, secret: str, timestamp: int) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"`` under ``secret``."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(body: bytes, *, secret: str, timestamp: int) -> str:
    """The ``Omniloom-Signature`` header value for ``body`` sent at ``timestamp`` (unix seconds)."""
    return f"t={timestamp},{SCHEME}={compute_signature(body, secret=secret, timestamp=timestamp)}"


def verify(header: str, body: bytes, *, secret: str, now: int,
           tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS) -> bool:
    """Whether ``header`` signs exactly ``body`` with ``secret`` at a time within the tolerance of ``now``."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == SCHEME:
            candidates.append(value)
    if timestamp is None or not candidates or abs(now - timestamp) > tolerance_seconds:
        return False
    expected = compute_signature(body, secret=secret, timestamp=timestamp)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
