"""People: JWTs from the bank's SSO, verified against its JWKS (RFC 7519, RFC 8725).

Each JWKS key is bound to exactly one pinned asymmetric algorithm, and a token is checked with
its key's algorithm only: `none`, HMAC (the RS/HS confusion) and any algorithm the bank did not
pin are refused before a signature is looked at. exp, iss, aud and sub are required; nbf is
honoured. Verified tokens are cached until they expire, since RSA/ECDSA checks cost more than
the rest of a proxied call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from jwt.algorithms import get_default_algorithms

from crm_runtime.auth import Principal, Role, VerifiedTokens
from crm_runtime.errors import Unauthenticated
from crm_runtime.logging import get_logger

log = get_logger("jwks")

_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC"}
_SUBJECT_RE = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
_TEAM_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_CACHE_SIZE = 10_000
# A person's token never grants the system role: only API keys of bank systems hold it.
PERSON_ROLES = frozenset(Role) - {Role.SYSTEM}


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A public key from the JWKS and the one algorithm it may verify."""

    kid: str
    algorithm: str
    key: Any


def parse_jwks(document: Mapping[str, Any], pinned: Iterable[str]) -> dict[str, VerificationKey]:
    """Return usable signature keys by kid; keys of other types or algorithms are skipped."""
    allowed = {a for a in pinned if a[:2] in _KEY_TYPES}
    algorithms = get_default_algorithms()
    keys: dict[str, VerificationKey] = {}
    for jwk in document.get("keys", []):
        kid, kty = str(jwk.get("kid", "")), jwk.get("kty")
        if not kid or jwk.get("use", "sig") != "sig":
            continue
        algorithm = jwk.get("alg") or {"RSA": "RS256", "EC": _ec_algorithm(jwk)}.get(str(kty))
        if algorithm not in allowed or _KEY_TYPES[algorithm[:2]] != kty:
            log.warning("jwks key skipped", kid=kid, kty=kty, alg=algorithm)
            continue
        key = algorithms[algorithm].from_jwk(json.dumps(jwk))
        keys[kid] = VerificationKey(kid, algorithm, key)
    return keys


def _ec_algorithm(jwk: Mapping[str, Any]) -> str:
    return {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}.get(str(jwk.get("crv")), "")


def _invalid(message: str) -> Unauthenticated:
    return Unauthenticated(message, reason="CREDENTIALS_INVALID")


class JwtVerifier:
    """Verifies people's bearer tokens and turns their claims into a principal."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithms: Iterable[str],
        leeway_seconds: int = 30,
        roles_claim: str = "roles",
        teams_claim: str = "teams",
        max_lifetime_seconds: int = 86_400,
    ) -> None:
        self._max_lifetime = max_lifetime_seconds
        self._issuer = issuer
        self._audience = audience
        self._algorithms = tuple(algorithms)
        self._leeway = leeway_seconds
        self._roles_claim = roles_claim
        self._teams_claim = teams_claim
        self._keys: dict[str, VerificationKey] = {}
        self._verified = VerifiedTokens(_CACHE_SIZE)
        self.unknown_kid_seen = asyncio.Event()

    def set_jwks(self, document: Mapping[str, Any]) -> None:
        """Replace the trusted keys; cached verifications are dropped with the old keys."""
        self._keys = parse_jwks(document, self._algorithms)
        self._verified.clear()
        log.info("jwks loaded", kids=sorted(self._keys))

    def verify(self, token: str, *, now: float | None = None) -> Principal:
        """Return the person a bearer token names, or raise UNAUTHENTICATED."""
        moment = time.time() if now is None else now
        return self._verified.principal(token, moment, self._decode)

    def _decode(self, token: str, moment: float) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise _invalid("malformed bearer token") from exc
        key = self._keys.get(str(header.get("kid", "")))
        if key is None:
            self.unknown_kid_seen.set()  # The SSO may have rotated: refresh soon.
            raise _invalid("bearer token signed by an unknown key")
        if header.get("alg") != key.algorithm:
            raise _invalid("bearer token algorithm is not allowed for its key")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", "sub"], "verify_iat": False},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("bearer token expired", reason="CREDENTIALS_EXPIRED") from exc
        except jwt.ImmatureSignatureError as exc:
            raise _invalid("bearer token not valid yet") from exc
        except jwt.PyJWTError as exc:
            raise _invalid("bearer token rejected") from exc
        issued = claims.get("iat", moment)
        # A token issued in the future was minted on a wrong clock or ahead of time, to be
        # used later (the security suite's "issued_in_the_future" was accepted): refused.
        if isinstance(issued, bool) or not isinstance(issued, int | float) or \
                issued > moment + self._leeway:
            raise _invalid("bearer token issue time is not a past moment")
        expires = claims["exp"]
        # PyJWT accepts a numeric string and any far-future number: a token that never
        # expires is a stolen credential forever, so exp must be a JSON number within the
        # longest lifetime the SSO issues.
        if isinstance(expires, bool) or not isinstance(expires, int | float):
            raise _invalid("bearer token expiry is not a number")
        if expires > moment + self._max_lifetime + self._leeway:
            raise _invalid("bearer token lifetime is longer than allowed")
        if float(expires) + self._leeway <= moment:
            raise Unauthenticated("bearer token expired", reason="CREDENTIALS_EXPIRED")
        return self._principal(claims), float(expires) + self._leeway

    def _principal(self, claims: Mapping[str, Any]) -> Principal:
        subject = str(claims["sub"])
        if not _SUBJECT_RE.match(subject):
            raise _invalid("bearer token subject is not a staff id")
        return Principal(
            subject=f"staff/{subject}",
            roles=frozenset(_roles(claims.get(self._roles_claim))),
            teams=frozenset(_teams(claims.get(self._teams_claim))),
            issuer=str(claims["iss"]),
            token_id=str(claims.get("jti", "")),
        )


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def _roles(value: object) -> Iterable[Role]:
    by_value = {str(r): r for r in PERSON_ROLES}
    return (by_value[v] for v in _strings(value) if v in by_value)


def _teams(value: object) -> Iterable[str]:
    for team in _strings(value):
        bare = team.removeprefix("teams/")
        if _TEAM_RE.match(bare):
            yield f"teams/{bare}"


class JwksSource:
    """Keeps a verifier's keys fresh from a file (on change) or a URL (periodically)."""

    def __init__(
        self, verifier: JwtVerifier, *, file: Path | None, url: str, refresh_seconds: float
    ) -> None:
        self._verifier = verifier
        self._file = file
        self._url = url
        self._refresh = refresh_seconds
        self._file_mtime = 0.0

    async def load(self) -> None:
        """Load the keys once; fail loudly at startup if they cannot be read."""
        if self._file is not None:
            self._file_mtime = self._file.stat().st_mtime
            self._verifier.set_jwks(json.loads(self._file.read_text()))
        elif self._url:
            async with httpx.AsyncClient(timeout=10) as http:
                reply = await http.get(self._url)
                reply.raise_for_status()
                self._verifier.set_jwks(reply.json())

    async def run(self) -> None:
        """Refresh on schedule, or soon after a token names an unknown key (at most every 30 s)."""
        while True:
            waiter = asyncio.ensure_future(self._verifier.unknown_kid_seen.wait())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, timeout=self._refresh)
            self._verifier.unknown_kid_seen.clear()
            try:
                if self._file is None or self._file.stat().st_mtime != self._file_mtime:
                    await self.load()
            except (OSError, ValueError, httpx.HTTPError) as exc:
                log.error("jwks refresh failed; keeping the previous keys", error=str(exc))
            await asyncio.sleep(min(30.0, self._refresh))
