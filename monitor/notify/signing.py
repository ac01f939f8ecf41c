"""Standard Webhooks signing: the `webhook-id`, `webhook-timestamp` and `webhook-signature` headers.

The signature is `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` (standardwebhooks.com).
The key is the secret's UTF-8 bytes, or for a `whsec_` secret the base64-decoded rest, as the
Standard Webhooks libraries do, so that receivers can verify with those libraries unchanged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

__all__ = ["SECRET_PREFIX", "sign", "signing_key", "webhook_headers"]

SECRET_PREFIX = "whsec_"


def signing_key(secret: str) -> bytes:
    """The HMAC key of `secret`. Raises ValueError (without the secret) for a bad `whsec_` one."""
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode("utf-8")
    encoded = secret.removeprefix(SECRET_PREFIX)
    # The reference libraries accept unpadded base64: pad it, as they do.
    padded = encoded + "=" * (-len(encoded) % 4)
    try:
        key = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"a webhook secret starting with {SECRET_PREFIX} must be base64") from None
    if not key:
        raise ValueError(f"a webhook secret starting with {SECRET_PREFIX} must not be empty")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "msg_id.timestamp.body">`."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def webhook_headers(msg_id: str, timestamp: int, body: bytes, secret: str | None) -> dict[str, str]:
    """The Standard Webhooks headers; `webhook-signature` only when a secret is set."""
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp)}
    if secret:
        headers["webhook-signature"] = sign(secret, msg_id, timestamp, body)
    return headers
