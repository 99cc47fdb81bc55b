"""The console's session: a sealed, HttpOnly, SameSite=Strict cookie holding the SSO token.

The cookie is AES-GCM sealed (nobody can read the token out of it or forge one) and carries
the CSRF token its forms must echo. Keeping the session in the cookie, not in process memory,
lets any gateway replica that holds the key serve the person.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

COOKIE_NAME = "crm_console"
_NONCE_BYTES = 12
_AAD = b"crm-console-session-v1"


@dataclass(frozen=True)
class Session:
    """Who is signed in, their SSO token and the token their forms carry."""

    staff: str
    roles: tuple[str, ...]
    teams: tuple[str, ...]
    token: str
    csrf: str
    expires: float

    @property
    def expired(self) -> bool:
        """Return whether the SSO token has run out (the gateway would refuse it)."""
        return time.time() >= self.expires

    def has(self, *roles: str) -> bool:
        """Return whether the person holds any of `roles` (menus only; the gateway decides)."""
        return any(role in self.roles for role in roles)


def new_session(
    staff: str, roles: tuple[str, ...], teams: tuple[str, ...], token: str, expires: float
) -> Session:
    """Return a session with a fresh CSRF token."""
    return Session(staff, roles, teams, token, secrets.token_urlsafe(24), expires)


class SessionCodec:
    """Seals sessions into cookie values and opens them again."""

    def __init__(self, key_b64: str = "") -> None:
        key = base64.b64decode(key_b64) if key_b64 else os.urandom(32)
        if len(key) not in (16, 24, 32):
            raise ValueError("CONSOLE_SESSION_KEY must be base64 of 16, 24 or 32 bytes")
        self._aead = AESGCM(key)

    def seal(self, session: Session) -> str:
        """Return the cookie value of `session`."""
        nonce = os.urandom(_NONCE_BYTES)
        plain = json.dumps(asdict(session), separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(nonce + self._aead.encrypt(nonce, plain, _AAD)).decode()

    def open(self, value: str) -> Session | None:
        """Return the session in a cookie value, or None when it is not one of ours."""
        try:
            raw = base64.urlsafe_b64decode(value.encode())
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _AAD)
            fields = json.loads(plain)
            return Session(
                staff=str(fields["staff"]),
                roles=tuple(fields["roles"]),
                teams=tuple(fields["teams"]),
                token=str(fields["token"]),
                csrf=str(fields["csrf"]),
                expires=float(fields["expires"]),
            )
        except (InvalidTag, ValueError, KeyError, TypeError, binascii.Error):
            return None
