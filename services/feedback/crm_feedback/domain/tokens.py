"""One-time answer tokens: the link a client follows to answer one survey dispatch.

Format (URL-safe, no padding)::

    v1.<base64url(dispatch_id NUL recipient_id)>.<base64url(HMAC-SHA256)>

The MAC covers a domain-separation label, the version and the payload, so a token is
bound to its dispatch and recipient and cannot be forged or re-targeted without the
secret. The dispatch id is readable from the token (it is not secret) so that the
service can look the dispatch up; nothing is trusted before the MAC checks out.

What this module does **not** do: "one-time" and expiry are state, and state is the
service's job. After :func:`verify_token` succeeds the service must, in one transaction,
check that the dispatch exists, belongs to the recipient, has not expired and has no
answer yet, then store the answer and mark the dispatch used. Rotating the secret
invalidates every outstanding token; verify against each active secret if rotating.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from typing import Final

FORMAT_VERSION: Final = "v1"
MIN_SECRET_BYTES: Final = 32
MAX_ID_CHARS: Final = 200
# Bounds the work an attacker can make verify do with a huge token.
MAX_TOKEN_CHARS: Final = 1_024
_LABEL: Final = b"crm.feedback.answer-token"
_SEPARATOR: Final = b"\x00"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a valid token says: which dispatch, for which recipient."""

    dispatch_id: str
    recipient_id: str


def _b64encode(data: bytes) -> str:
    """Return unpadded URL-safe base64."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes | None:
    """Decode unpadded URL-safe base64 strictly; return None for anything non-canonical."""
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    # Round-tripping rejects alternative spellings of the same bytes (stray characters,
    # non-zero padding bits), so one claim set has exactly one valid token string.
    return data if _b64encode(data) == text else None


def _check_secret(secret: bytes) -> None:
    """Reject secrets too short to make the MAC unforgeable."""
    if len(secret) < MIN_SECRET_BYTES:
        msg = f"secret must be at least {MIN_SECRET_BYTES} bytes"
        raise ValueError(msg)


def _mac(secret: bytes, payload: bytes) -> bytes:
    """Return the HMAC-SHA256 over the label, version and payload."""
    message = _LABEL + _SEPARATOR + FORMAT_VERSION.encode("ascii") + _SEPARATOR + payload
    return hmac.new(secret, message, hashlib.sha256).digest()


def mint_token(secret: bytes, dispatch_id: str, recipient_id: str) -> str:
    """Return a URL-safe token that answers dispatch ``dispatch_id`` as ``recipient_id``."""
    _check_secret(secret)
    for name, value in (("dispatch_id", dispatch_id), ("recipient_id", recipient_id)):
        if not value or len(value) > MAX_ID_CHARS or "\x00" in value:
            msg = f"{name} must be 1-{MAX_ID_CHARS} characters without NUL"
            raise ValueError(msg)
    payload = dispatch_id.encode("utf-8") + _SEPARATOR + recipient_id.encode("utf-8")
    return f"{FORMAT_VERSION}.{_b64encode(payload)}.{_b64encode(_mac(secret, payload))}"


def verify_token(secret: bytes, token: str) -> TokenClaims | None:
    """Return the claims of an authentic token, or None for anything else.

    The MAC comparison is constant-time. A None result does not say why, on purpose.
    """
    _check_secret(secret)
    if len(token) > MAX_TOKEN_CHARS:
        return None
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != FORMAT_VERSION:
        return None
    payload, presented_mac = _b64decode(parts[1]), _b64decode(parts[2])
    if payload is None or presented_mac is None:
        return None
    if not hmac.compare_digest(_mac(secret, payload), presented_mac):
        return None
    return _claims_of(payload)


def _claims_of(payload: bytes) -> TokenClaims | None:
    """Split an authenticated payload into claims (None if it is not two UTF-8 ids)."""
    dispatch_raw, separator, recipient_raw = payload.partition(_SEPARATOR)
    try:
        dispatch_id, recipient_id = dispatch_raw.decode("utf-8"), recipient_raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return TokenClaims(dispatch_id, recipient_id) if separator else None
