"""Caller identity: short-lived signed tokens that services verify on every call.

The gateway signs a token (EdDSA) naming the person or system behind each external call and
sends it in the `x-crm-identity` metadata. Services hold only public keys, so a caller that
reaches a service directly cannot forge one. Services that call each other (event relays,
recipient lookups) sign with their own key, which may only assert the `system` role.
"""

from __future__ import annotations

import contextvars
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from crm_runtime.errors import PermissionDenied, Unauthenticated

IDENTITY_METADATA_KEY = "x-crm-identity"
AUDIENCE = "crm-internal"
ALGORITHM = "EdDSA"
DEFAULT_TTL_SECONDS = 300
_CACHE_SIZE = 4096


class Role(StrEnum):
    """Roles from DESIGN §6."""

    RELATIONSHIP_MANAGER = "relationship_manager"
    TEAM_LEAD = "team_lead"
    RISK_OFFICER = "risk_officer"
    CREDIT_APPROVER = "credit_approver"
    OPS = "ops"
    AUDITOR = "auditor"
    SYSTEM = "system"


# Roles that see every client rather than only their own or their team's.
PORTFOLIO_WIDE_ROLES = frozenset(
    {Role.RISK_OFFICER, Role.CREDIT_APPROVER, Role.OPS, Role.AUDITOR, Role.SYSTEM}
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: `staff/{id}` for people, `systems/{name}` for systems."""

    subject: str
    roles: frozenset[Role]
    teams: frozenset[str] = field(default_factory=frozenset)
    issuer: str = ""
    token_id: str = ""

    def has(self, *roles: Role) -> bool:
        """Return True if the caller holds any of `roles`."""
        return not self.roles.isdisjoint(roles)

    @property
    def sees_whole_portfolio(self) -> bool:
        """Return True if object-level ownership rules do not narrow this caller's view."""
        return not self.roles.isdisjoint(PORTFOLIO_WIDE_ROLES)


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "crm_principal", default=None
)


def current_principal() -> Principal:
    """Return the verified caller of the RPC being served."""
    principal = _current.get()
    if principal is None:
        raise Unauthenticated("no verified caller identity")
    return principal


def set_current_principal(principal: Principal | None) -> contextvars.Token[Principal | None]:
    """Bind the caller for the current task (the server interceptor does this)."""
    return _current.set(principal)


def require_roles(*roles: Role) -> Principal:
    """Return the caller if it holds one of `roles`, else raise PERMISSION_DENIED."""
    principal = current_principal()
    if not principal.has(*roles):
        raise PermissionDenied(
            "caller's role may not perform this action", reason="ROLE_NOT_ALLOWED"
        )
    return principal


def generate_signing_key() -> tuple[bytes, bytes]:
    """Return a new (private PEM, public PEM) Ed25519 key pair."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


class TokenSigner:
    """Mints identity tokens with one private key."""

    def __init__(self, private_pem: bytes, kid: str, *, ttl_seconds: int = DEFAULT_TTL_SECONDS):
        key = serialization.load_pem_private_key(private_pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("identity signing key must be Ed25519")
        self._key = key
        self.kid = kid
        self._ttl = ttl_seconds

    @classmethod
    def from_file(cls, path: Path, kid: str) -> TokenSigner:
        """Load the signing key from a PEM file."""
        return cls(path.read_bytes(), kid)

    def mint(
        self,
        subject: str,
        roles: Iterable[Role | str],
        *,
        teams: Iterable[str] = (),
        ttl_seconds: int | None = None,
        now: float | None = None,
    ) -> str:
        """Return a signed token for `subject` holding `roles`."""
        issued = int(now if now is not None else time.time())
        claims = {
            "sub": subject,
            "roles": sorted(str(Role(r)) for r in roles),
            "teams": sorted(teams),
            "iss": self.kid,
            "aud": AUDIENCE,
            "iat": issued,
            "nbf": issued - 5,
            "exp": issued + (ttl_seconds or self._ttl),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self.kid})


class VerifiedTokens:
    """Principals of tokens already verified, each kept until its token expires.

    A caller sends the same token on many calls, and checking a signature costs more than the
    rest of a short call. Both verifiers keep one (services for identity tokens, the gateway
    for SSO tokens). Bounded: past `size` entries the oldest goes, so a flood of distinct
    tokens cannot grow it.
    """

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    def principal(
        self,
        token: str,
        moment: float,
        decode: Callable[[str, float], tuple[Principal, float]],
    ) -> Principal:
        """Return the principal of `token` at `moment`, decoding it (and raising as `decode`
        does) unless a verification that has not expired is cached."""
        cached = self._entries.get(token)
        if cached is not None and cached[1] > moment:
            return cached[0]
        principal, expires = decode(token, moment)
        self._entries[token] = (principal, expires)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return principal

    def clear(self) -> None:
        """Forget every verification (the trusted keys changed)."""
        self._entries.clear()


class TokenVerifier:
    """Verifies identity tokens against trusted public keys, with a small cache."""

    def __init__(self, public_keys: Mapping[str, bytes], *, human_issuers: frozenset[str]):
        self._keys: dict[str, Ed25519PublicKey] = {}
        for kid, pem in public_keys.items():
            key = serialization.load_pem_public_key(pem)
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError(f"trusted key {kid!r} is not Ed25519")
            self._keys[kid] = key
        self._human_issuers = human_issuers
        self._verified = VerifiedTokens()

    @classmethod
    def from_dir(cls, directory: Path, *, human_issuers: frozenset[str]) -> TokenVerifier:
        """Load every `<kid>.pem` file in `directory` as a trusted key."""
        keys = {p.stem: p.read_bytes() for p in sorted(directory.glob("*.pem"))}
        return cls(keys, human_issuers=human_issuers)

    def verify(self, token: str, *, now: float | None = None) -> Principal:
        """Return the principal a token names, or raise UNAUTHENTICATED."""
        moment = now if now is not None else time.time()
        return self._verified.principal(token, moment, self._decode)

    def _decode(self, token: str, moment: float) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("malformed identity token", reason="IDENTITY_INVALID") from exc
        key = self._keys.get(str(header.get("kid", "")))
        if key is None or header.get("alg") != ALGORITHM:
            raise Unauthenticated("identity token key is not trusted", reason="IDENTITY_INVALID")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                options={"require": ["exp", "iat", "sub", "iss", "aud"], "verify_iat": False},
                leeway=0,
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("identity token expired", reason="IDENTITY_EXPIRED") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("identity token rejected", reason="IDENTITY_INVALID") from exc
        if claims["iss"] != header["kid"]:
            raise Unauthenticated("identity token rejected", reason="IDENTITY_INVALID")
        # Same reason as PyJWT's own expiry check, so callers know to fetch a fresh token.
        if claims["exp"] <= moment:
            raise Unauthenticated("identity token expired", reason="IDENTITY_EXPIRED")
        try:
            roles = frozenset(Role(r) for r in claims.get("roles", []))
        except ValueError as exc:
            raise Unauthenticated("unknown role in identity", reason="IDENTITY_INVALID") from exc
        if claims["iss"] not in self._human_issuers and roles != {Role.SYSTEM}:
            raise Unauthenticated(
                "this issuer may only assert the system role", reason="IDENTITY_INVALID"
            )
        principal = Principal(
            subject=str(claims["sub"]),
            roles=roles,
            teams=frozenset(str(t) for t in claims.get("teams", [])),
            issuer=str(claims["iss"]),
            token_id=str(claims.get("jti", "")),
        )
        return principal, float(claims["exp"])
