"""A stand-in for the bank's single sign-on: an RSA key, its JWKS file, and signed tokens.

The gateway only ever sees the public JWKS document, exactly as it would with the real SSO.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://sso.demo-bank.example"
AUDIENCE = "crm-gateway"
KID = "demo-sso-1"


class DemoSso:
    """Issues RS256 tokens for staff, as the bank's identity provider would."""

    def __init__(self, folder: Path) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self._key.public_key()))
        jwk.update(kid=KID, alg="RS256", use="sig")
        self.jwks_file = folder / "jwks.json"
        self.jwks_file.write_text(json.dumps({"keys": [jwk]}))
        # Where the console's login page obtains tokens (crm_demo.sso_endpoint), once started.
        self.token_url = ""

    def gateway_env(self) -> dict[str, str]:
        """Return the gateway settings that make it trust this SSO."""
        env = {"JWKS_FILE": str(self.jwks_file), "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE}
        if self.token_url:
            env["CONSOLE_SSO_TOKEN_URL"] = self.token_url
        return env

    def token(self, subject: str, roles: Iterable[str], teams: Iterable[str] = ()) -> str:
        """Return a signed, five-minute token for a member of staff."""
        now = int(time.time())
        claims = {
            "sub": subject,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + 300,
            "roles": list(roles),
            "teams": list(teams),
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": KID})
