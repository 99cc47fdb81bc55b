"""Identity tokens: forged, stale and misused tokens are refused; roles decide portfolio scope."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from crm_runtime.auth import (
    AUDIENCE,
    Principal,
    Role,
    TokenSigner,
    TokenVerifier,
    VerifiedTokens,
    current_principal,
    generate_signing_key,
    require_roles,
    set_current_principal,
)
from crm_runtime.errors import PermissionDenied, Unauthenticated

KIDS = ("gateway", "client")


@pytest.fixture(scope="module")
def keys() -> dict[str, tuple[bytes, bytes]]:
    """One (private PEM, public PEM) pair per trusted kid."""
    return {kid: generate_signing_key() for kid in KIDS}


@pytest.fixture(scope="module")
def verifier(keys) -> TokenVerifier:
    """A verifier trusting every kid, with only the gateway allowed to assert people."""
    return TokenVerifier({kid: pair[1] for kid, pair in keys.items()},
                         human_issuers=frozenset({"gateway"}))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": "staff/rm-a", "roles": ["relationship_manager"], "teams": [],
        "iss": "gateway", "aud": AUDIENCE, "iat": now, "nbf": now - 5, "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return claims


def _signed(private_pem: bytes, claims: dict[str, object], kid: str) -> str:
    key = serialization.load_pem_private_key(private_pem, password=None)
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})  # type: ignore[arg-type]


def _unsigned(header: dict[str, object], claims: dict[str, object], secret: bytes | None) -> str:
    """Return a compact JWS built by hand (PyJWT refuses to build the forged ones)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    if secret is None:
        return signing_input + "."
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def _reason(verifier: TokenVerifier, token: str, **kwargs: float) -> str:
    with pytest.raises(Unauthenticated) as caught:
        verifier.verify(token, **kwargs)
    return caught.value.reason


class TestForgedTokensRejected:
    def test_valid_gateway_token_is_accepted(self, keys, verifier):
        """A correctly signed gateway token yields the principal it names (control case)."""
        principal = verifier.verify(_signed(keys["gateway"][0], _claims(teams=["t1"]), "gateway"))
        assert principal.subject == "staff/rm-a"
        assert principal.roles == {Role.RELATIONSHIP_MANAGER}
        assert principal.teams == {"t1"}
        assert principal.issuer == "gateway"

    def test_alg_none(self, verifier):
        """An unsigned token (alg none) naming a trusted kid is refused."""
        token = _unsigned({"alg": "none", "typ": "JWT", "kid": "gateway"}, _claims(), None)
        assert _reason(verifier, token) == "IDENTITY_INVALID"

    def test_alg_none_with_eddsa_header_and_empty_signature(self, verifier):
        """An EdDSA header with the signature stripped is refused."""
        token = _unsigned({"alg": "EdDSA", "typ": "JWT", "kid": "gateway"}, _claims(), None)
        assert _reason(verifier, token) == "IDENTITY_INVALID"

    def test_hs256_signed_with_public_key(self, keys, verifier):
        """An HMAC token keyed with the published public key (key confusion) is refused."""
        public_pem = keys["gateway"][1]
        for alg in ("HS256", "EdDSA"):
            token = _unsigned({"alg": alg, "typ": "JWT", "kid": "gateway"}, _claims(), public_pem)
            assert _reason(verifier, token) == "IDENTITY_INVALID"

    def test_expired(self, keys, verifier):
        """A token whose exp has passed is IDENTITY_EXPIRED."""
        past = int(time.time()) - 1000
        token = _signed(keys["gateway"][0], _claims(iat=past, nbf=past, exp=past + 300), "gateway")
        assert _reason(verifier, token) == "IDENTITY_EXPIRED"

    def test_not_yet_valid(self, keys, verifier):
        """A token whose nbf lies in the future is refused."""
        soon = int(time.time()) + 600
        token = _signed(keys["gateway"][0], _claims(nbf=soon, exp=soon + 300), "gateway")
        assert _reason(verifier, token) == "IDENTITY_INVALID"

    def test_wrong_audience(self, keys, verifier):
        """A token minted for another audience is refused, as is one without an audience."""
        token = _signed(keys["gateway"][0], _claims(aud="crm-public"), "gateway")
        assert _reason(verifier, token) == "IDENTITY_INVALID"
        claims = _claims()
        del claims["aud"]
        assert _reason(verifier, _signed(keys["gateway"][0], claims, "gateway")) == (
            "IDENTITY_INVALID")

    def test_issuer_differs_from_kid(self, keys, verifier):
        """A service key cannot claim to be the gateway through iss, nor the reverse."""
        as_gateway = _signed(keys["client"][0], _claims(iss="gateway"), "client")
        assert _reason(verifier, as_gateway) == "IDENTITY_INVALID"
        as_client = _signed(keys["gateway"][0], _claims(iss="client", roles=["system"]), "gateway")
        assert _reason(verifier, as_client) == "IDENTITY_INVALID"

    def test_signed_by_another_key_with_same_kid(self, verifier):
        """A token from an untrusted key that reuses the gateway's kid is refused."""
        rogue_private, _ = generate_signing_key()
        token = _signed(rogue_private, _claims(), "gateway")
        assert _reason(verifier, token) == "IDENTITY_INVALID"

    def test_unknown_kid(self, verifier):
        """A token naming a kid the service does not trust is refused."""
        rogue_private, _ = generate_signing_key()
        token = _signed(rogue_private, _claims(iss="partner"), "partner")
        assert _reason(verifier, token) == "IDENTITY_INVALID"
        claims = _claims()
        key = serialization.load_pem_private_key(rogue_private, password=None)
        no_kid = jwt.encode(claims, key, algorithm="EdDSA")  # type: ignore[arg-type]
        assert _reason(verifier, no_kid) == "IDENTITY_INVALID"

    @pytest.mark.parametrize("garbage", ["", "not-a-token", "a.b.c", "...", "eyJhbGciOi.x.y",
                                         "\u00e9\u00e9.\u00e9", "x" * 5000])
    def test_garbage(self, verifier, garbage):
        """Anything that is not a compact JWS is refused with IDENTITY_INVALID."""
        assert _reason(verifier, garbage) == "IDENTITY_INVALID"

    def test_missing_required_claims(self, keys, verifier):
        """Tokens lacking exp, sub or iat are refused."""
        for claim in ("exp", "sub", "iat"):
            claims = _claims()
            del claims[claim]
            token = _signed(keys["gateway"][0], claims, "gateway")
            assert _reason(verifier, token) == "IDENTITY_INVALID", claim

    def test_unknown_role(self, keys, verifier):
        """A role the platform does not define is refused, not dropped."""
        token = _signed(keys["gateway"][0], _claims(roles=["superuser"]), "gateway")
        assert _reason(verifier, token) == "IDENTITY_INVALID"


class TestServiceKeysMayOnlyAssertSystem:
    def test_service_key_asserting_human_role_rejected(self, keys, verifier):
        """A service's own key asserting a person's role is refused."""
        signer = TokenSigner(keys["client"][0], "client")
        for roles in ([Role.RELATIONSHIP_MANAGER], [Role.AUDITOR], [Role.SYSTEM, Role.OPS]):
            assert _reason(verifier, signer.mint("staff/x", roles)) == "IDENTITY_INVALID"

    def test_service_key_asserting_system_accepted(self, keys, verifier):
        """The same service key asserting only `system` is accepted."""
        signer = TokenSigner(keys["client"][0], "client")
        principal = verifier.verify(signer.mint("systems/client-relay", [Role.SYSTEM]))
        assert principal.roles == {Role.SYSTEM}
        assert principal.issuer == "client"

    def test_service_key_with_no_roles_rejected(self, keys, verifier):
        """A service key token with an empty role list is refused."""
        signer = TokenSigner(keys["client"][0], "client")
        assert _reason(verifier, signer.mint("systems/client", [])) == "IDENTITY_INVALID"


class TestVerifierCache:
    def test_cached_token_not_accepted_after_exp(self, keys, verifier):
        """A token verified (and cached) earlier is refused once its exp has passed."""
        now = time.time()
        signer = TokenSigner(keys["gateway"][0], "gateway", ttl_seconds=60)
        token = signer.mint("staff/rm-a", [Role.RELATIONSHIP_MANAGER], now=now)
        assert verifier.verify(token, now=now).subject == "staff/rm-a"
        assert verifier.verify(token, now=now + 59).subject == "staff/rm-a"
        assert _reason(verifier, token, now=now + 61) == "IDENTITY_EXPIRED"
        assert _reason(verifier, token, now=now + 3600) == "IDENTITY_EXPIRED"

    def test_rejected_token_stays_rejected(self, verifier):
        """A refused token is not remembered as valid by a second attempt."""
        rogue_private, _ = generate_signing_key()
        token = _signed(rogue_private, _claims(), "gateway")
        for _ in range(2):
            assert _reason(verifier, token) == "IDENTITY_INVALID"


class TestPrincipal:
    @pytest.mark.parametrize(("role", "whole"), [
        (Role.RELATIONSHIP_MANAGER, False), (Role.TEAM_LEAD, False), (Role.RISK_OFFICER, True),
        (Role.CREDIT_APPROVER, True), (Role.OPS, True), (Role.AUDITOR, True), (Role.SYSTEM, True),
    ])
    def test_sees_whole_portfolio_per_role(self, role, whole):
        """Only RMs and team leads are narrowed to their own or their team's clients."""
        assert Principal("staff/x", frozenset({role})).sees_whole_portfolio is whole

    def test_no_roles_sees_nothing_wide(self):
        """A principal without roles is not portfolio-wide; mixed roles widen the view."""
        assert Principal("staff/x", frozenset()).sees_whole_portfolio is False
        mixed = frozenset({Role.RELATIONSHIP_MANAGER, Role.AUDITOR})
        assert Principal("staff/x", mixed).sees_whole_portfolio is True

    def test_require_roles(self):
        """require_roles passes holders, denies others with ROLE_NOT_ALLOWED, needs a caller."""
        token = set_current_principal(None)
        try:
            with pytest.raises(Unauthenticated):
                current_principal()
            set_current_principal(Principal("staff/x", frozenset({Role.TEAM_LEAD})))
            assert require_roles(Role.TEAM_LEAD, Role.OPS).subject == "staff/x"
            with pytest.raises(PermissionDenied) as caught:
                require_roles(Role.AUDITOR)
            assert caught.value.reason == "ROLE_NOT_ALLOWED"
        finally:
            set_current_principal(None)
            del token


def _counting_decoder(expires: float) -> tuple[list[str], object]:
    decoded: list[str] = []

    def decode(token: str, moment: float) -> tuple[Principal, float]:
        decoded.append(token)
        if token == "forged":
            raise Unauthenticated("bad signature", reason="IDENTITY_INVALID")
        return Principal(f"staff/{token}", frozenset({Role.OPS})), expires

    return decoded, decode


def test_verified_tokens_are_reused_until_they_expire():
    """A token is decoded once while its verification lasts, and again once it has expired."""
    cache = VerifiedTokens()
    decoded, decode = _counting_decoder(expires=100.0)
    first = cache.principal("a", 10.0, decode)
    assert cache.principal("a", 99.9, decode) is first
    assert decoded == ["a"]
    cache.principal("a", 100.0, decode)
    assert decoded == ["a", "a"]


def test_verified_tokens_keep_no_refusal_and_stay_bounded():
    """A refused token is not remembered; past its size the oldest verification goes; clear
    forgets everything (the keys changed)."""
    cache = VerifiedTokens(size=2)
    decoded, decode = _counting_decoder(expires=100.0)
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            cache.principal("forged", 1.0, decode)
    for token in ("a", "b", "c", "b", "c"):
        cache.principal(token, 1.0, decode)
    assert decoded == ["forged", "forged", "a", "b", "c"]
    cache.principal("a", 1.0, decode)  # Evicted by c: decoded again.
    cache.clear()
    cache.principal("a", 1.0, decode)
    assert decoded == ["forged", "forged", "a", "b", "c", "a", "a"]
