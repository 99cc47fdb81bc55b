"""The forged-credential catalogue: one named case per way of presenting a credential the
gateway must refuse. Every case claims (or smuggles) the auditor role, and every case is sent
to ListAuditRecords, which only an auditor may call: a case is *accepted* when that call
succeeds. Each case is a list of header pairs that both faces can carry (gRPC metadata and
HTTP headers: lower-case names, printable ASCII values).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from gateway_harness import GatewayHarness, Sso
from jwt.algorithms import RSAAlgorithm

from crm_gateway.apikeys import new_api_key
from crm_runtime.auth import Role

Headers = list[tuple[str, str]]
SUBJECT = "mallory"
AUDITOR = str(Role.AUDITOR)
# A key whose entry is hashed with a pepper the gateway does not use (written by the test).
PEPPERED_KEY, PEPPERED_ENTRY = new_api_key("peppered-1", "peppered-etl", [Role.SYSTEM],
                                           pepper=b"another-deployment's-pepper")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """Return a token assembled by hand (no library refusing what it thinks is silly)."""
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(claims).encode())
    return f"{head}.{body}.{_b64(signature)}"


def _hmac(header: dict[str, Any], claims: dict[str, Any], secret: bytes,
          digest: Any = hashlib.sha256) -> str:
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), digest).digest()
    return f"{head}.{body}.{_b64(signature)}"


def bearer(token: str) -> Headers:
    return [("authorization", f"Bearer {token}")]


class Forger:
    """Makes every forgery against one gateway's SSO and keys."""

    def __init__(self, gw: GatewayHarness) -> None:
        self.gw = gw
        self.sso: Sso = gw.sso
        self.stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.stranger_ec = ec.generate_private_key(ec.SECP256R1())
        self.now = int(time.time())

    def claims(self, **overrides: Any) -> dict[str, Any]:
        return self.sso.claims(SUBJECT, (AUDITOR,), expires_in=300, **overrides)

    def signed(self, **overrides: Any) -> str:
        """A token the SSO really signed (RS256), with `overrides` in its claims."""
        return self.sso.token(SUBJECT, AUDITOR, **overrides)

    def valid_rm(self) -> str:
        """A genuine token of a relationship manager (no auditor role)."""
        return self.sso.token("rm-honest", Role.RELATIONSHIP_MANAGER)

    def cases(self) -> dict[str, Callable[[], Headers]]:
        return {**self.jwt_cases(), **self.claim_cases(), **self.shape_cases(),
                **self.api_key_cases(), **self.smuggling_cases()}

    def jwt_cases(self) -> dict[str, Callable[[], Headers]]:
        sso, c = self.sso, self.claims
        kid = sso.rsa_kid
        pem = sso.rsa_public_pem()
        jwk_json = RSAAlgorithm.to_jwk(sso.rsa_key.public_key()).encode()
        stranger_jwk = json.loads(RSAAlgorithm.to_jwk(self.stranger.public_key()))
        return {
            "alg_none": lambda: bearer(_raw({"alg": "none", "typ": "JWT", "kid": kid}, c())),
            "alg_None_mixed_case": lambda: bearer(_raw({"alg": "None", "kid": kid}, c())),
            "alg_NONE_upper_case": lambda: bearer(_raw({"alg": "NONE", "kid": kid}, c())),
            "alg_none_header_on_real_signature": lambda: bearer(".".join(
                [_b64(b'{"alg":"none"}'), *self.signed().split(".")[1:]])),
            "alg_missing": lambda: bearer(_raw({"typ": "JWT", "kid": kid}, c(), b"x")),
            "hs256_with_rsa_public_key_pem": lambda: bearer(
                _hmac({"alg": "HS256", "kid": kid}, c(), pem)),
            "hs256_with_rsa_public_key_jwk": lambda: bearer(
                _hmac({"alg": "HS256", "kid": kid}, c(), jwk_json)),
            "hs384_with_rsa_public_key_pem": lambda: bearer(
                _hmac({"alg": "HS384", "kid": kid}, c(), pem, hashlib.sha384)),
            "hs512_with_rsa_public_key_pem": lambda: bearer(
                _hmac({"alg": "HS512", "kid": kid}, c(), pem, hashlib.sha512)),
            "hs256_with_guessable_secret": lambda: bearer(
                _hmac({"alg": "HS256", "kid": kid}, c(), b"secret")),
            "hs256_with_empty_secret": lambda: bearer(
                _hmac({"alg": "HS256", "kid": kid}, c(), b"")),
            "es256_header_on_rsa_kid": lambda: bearer(jwt.encode(
                c(), sso.ec_key, algorithm="ES256", headers={"kid": kid})),
            "rs256_header_on_ec_kid": lambda: bearer(jwt.encode(
                c(), sso.rsa_key, algorithm="RS256", headers={"kid": sso.ec_kid})),
            "ps256_real_key_not_allowed_alg": lambda: bearer(jwt.encode(
                c(), sso.rsa_key, algorithm="PS256", headers={"kid": kid})),
            "rs512_real_key_not_allowed_alg": lambda: bearer(jwt.encode(
                c(), sso.rsa_key, algorithm="RS512", headers={"kid": kid})),
            "unknown_kid_stranger_key": lambda: bearer(jwt.encode(
                c(), self.stranger, algorithm="RS256", headers={"kid": "sso-rsa-unknown"})),
            "right_kid_stranger_key": lambda: bearer(jwt.encode(
                c(), self.stranger, algorithm="RS256", headers={"kid": kid})),
            "no_kid_stranger_key": lambda: bearer(
                jwt.encode(c(), self.stranger, algorithm="RS256")),
            "kid_path_traversal": lambda: bearer(jwt.encode(
                c(), self.stranger, algorithm="RS256", headers={"kid": "../../../dev/null"})),
            "kid_sql_injection": lambda: bearer(jwt.encode(
                c(), self.stranger, algorithm="RS256", headers={"kid": "x' OR '1'='1"})),
            "embedded_jwk_header": lambda: bearer(jwt.encode(
                c(), self.stranger, algorithm="RS256", headers={"kid": kid, "jwk": stranger_jwk})),
            "jku_header_to_attacker_jwks": lambda: bearer(jwt.encode(
                c(), self.stranger, algorithm="RS256",
                headers={"kid": kid, "jku": "https://evil.test/jwks.json"})),
            "x5u_header_to_attacker_cert": lambda: bearer(jwt.encode(
                c(), self.stranger, algorithm="RS256",
                headers={"kid": kid, "x5u": "https://evil.test/cert.pem"})),
            "stranger_ec_key_on_ec_kid": lambda: bearer(jwt.encode(
                c(), self.stranger_ec, algorithm="ES256", headers={"kid": sso.ec_kid})),
            "internal_identity_as_bearer": lambda: bearer(self.gw.identity.signers["gateway"].mint(
                f"staff/{SUBJECT}", [Role.AUDITOR])),
            "service_identity_as_bearer": lambda: bearer(self.gw.identity.signers["risk"].mint(
                f"staff/{SUBJECT}", [Role.AUDITOR])),
        }

    def claim_cases(self) -> dict[str, Callable[[], Headers]]:
        s, now = self.signed, self.now
        return {
            "expired": lambda: bearer(s(exp=now - 3600)),
            "expired_beyond_leeway": lambda: bearer(s(exp=now - 120)),
            "not_yet_valid": lambda: bearer(s(nbf=now + 600)),
            "issued_in_the_future": lambda: bearer(s(iat=now + 3600, exp=now + 7200)),
            "wrong_audience": lambda: bearer(s(aud="another-app")),
            "audience_list_without_ours": lambda: bearer(s(aud=["another-app", "crm-gatewayx"])),
            "wrong_issuer": lambda: bearer(s(iss="https://evil.test")),
            "issuer_with_trailing_slash": lambda: bearer(s(iss="https://sso.bank.test/")),
            "missing_exp": lambda: bearer(s(exp=None)),
            "missing_aud": lambda: bearer(s(aud=None)),
            "missing_iss": lambda: bearer(s(iss=None)),
            "missing_sub": lambda: bearer(s(sub=None)),
            "exp_as_string": lambda: bearer(s(exp=str(now + 300))),
            "exp_as_bool": lambda: bearer(s(exp=True)),
            "exp_2_pow_63": lambda: bearer(s(exp=2**63)),
            "lifetime_beyond_maximum": lambda: bearer(s(exp=now + 3 * 86_400)),
            "subject_with_slash": lambda: bearer(s(sub="../systems/core-banking")),
            "subject_empty": lambda: bearer(s(sub="")),
        }

    def shape_cases(self) -> dict[str, Callable[[], Headers]]:
        valid = self.signed()
        head, payload, signature = valid.split(".")
        flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
        rm_head, rm_payload, rm_signature = self.valid_rm().split(".")
        promoted = json.loads(base64.urlsafe_b64decode(rm_payload + "=="))
        promoted["roles"] = [AUDITOR]
        return {
            "signature_flipped": lambda: bearer(f"{head}.{payload}.{flipped}"),
            "signature_stripped": lambda: bearer(f"{head}.{payload}."),
            "roles_tampered_in_signed_payload": lambda: bearer(
                f"{rm_head}.{_b64(json.dumps(promoted).encode())}.{rm_signature}"),
            "two_segments": lambda: bearer(f"{head}.{payload}"),
            "four_segments": lambda: bearer(f"{valid}.{signature}"),
            "non_base64_segment": lambda: bearer(f"{head}.{payload}!!.{signature}"),
            "header_not_json": lambda: bearer(f"{_b64(b'not json')}.{payload}.{signature}"),
            "header_json_array": lambda: bearer(f"{_b64(b'[1,2]')}.{payload}.{signature}"),
            "oversized_token": lambda: bearer(_raw({"alg": "RS256", "kid": self.sso.rsa_kid},
                                                   self.claims(pad="x" * 60_000), b"s" * 256)),
            "garbage": lambda: bearer("not-a-jwt"),
            "empty_bearer": lambda: [("authorization", "Bearer")],
            "basic_scheme": lambda: [("authorization", "Basic " + base64.b64encode(
                b"auditor:password").decode())],
            "token_without_scheme": lambda: [("authorization", valid)],
        }

    def api_key_cases(self) -> dict[str, Callable[[], Headers]]:
        real = self.gw.api_keys["core-banking"]
        _, key_id, secret = real.split("_", 2)
        return {
            "api_key_unknown_id": lambda: [("x-api-key", f"crmk_nobody-1_{secret}")],
            "api_key_revoked": lambda: [("x-api-key", self.gw.api_keys["retired-etl"])],
            "api_key_right_id_wrong_secret": lambda: [("x-api-key", f"crmk_{key_id}_{'A' * 43}")],
            "api_key_truncated": lambda: [("x-api-key", real[:-5])],
            "api_key_with_suffix": lambda: [("x-api-key", real + "x")],
            "api_key_prefix_only": lambda: [("x-api-key", "crmk_")],
            "api_key_empty": lambda: [("x-api-key", "")],
            "api_key_wrong_prefix": lambda: [("x-api-key", real.replace("crmk_", "crmx_", 1))],
            "api_key_hashed_with_another_pepper": lambda: [("x-api-key", PEPPERED_KEY)],
            "api_key_as_bearer": lambda: bearer(real),
            "api_key_oversized": lambda: [("x-api-key", "crmk_big_" + "A" * 60_000)],
        }

    def smuggling_cases(self) -> dict[str, Callable[[], Headers]]:
        internal = self.gw.identity.signers["gateway"].mint(f"staff/{SUBJECT}", [Role.AUDITOR])
        rm = self.valid_rm()
        return {
            "internal_identity_header_alone": lambda: [("x-crm-identity", internal)],
            "internal_identity_header_with_rm_token": lambda: [
                *bearer(rm), ("x-crm-identity", internal)],
            "roles_header_with_rm_token": lambda: [*bearer(rm), ("x-crm-roles", AUDITOR)],
            "forwarded_user_header_alone": lambda: [
                ("x-forwarded-user", SUBJECT), ("x-remote-user", SUBJECT),
                ("x-auth-request-groups", AUDITOR)],
            "two_authorization_headers": lambda: [
                ("authorization", "Bearer forged"), *bearer(self.signed())],
            "two_api_key_headers": lambda: [
                ("x-api-key", "crmk_forged-1_x"), ("x-api-key", self.gw.api_keys["core-banking"])],
            "forged_bearer_beside_valid_api_key": lambda: [
                *bearer(_raw({"alg": "none"}, self.claims())),
                ("x-api-key", self.gw.api_keys["core-banking"])],
            "bearer_scheme_lower_case_forged": lambda: [
                ("authorization", "bearer " + _raw({"alg": "none"}, self.claims()))],
        }
