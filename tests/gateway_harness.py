"""Starts the gateway in-process (gRPC and HTTP on port 0) in front of real or test upstreams.

`Sso` plays the bank's single sign-on: it holds RSA and EC signing keys, publishes them as a
JWKS file and mints people's tokens, well-formed or forged.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import grpc
import httpx
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from crm_gateway.apikeys import ApiKeyEntry, new_api_key
from crm_gateway.app import RunningGateway, build, migrate, start
from crm_gateway.config import GatewaySettings
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit

ISSUER = "https://sso.bank.test"
AUDIENCE = "crm-gateway"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Sso:
    """The bank's identity provider as far as the gateway can tell."""

    rsa_key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    ec_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    rsa_kid: str = "sso-rsa-1"
    ec_kid: str = "sso-ec-1"

    def jwks(self) -> dict[str, Any]:
        """Return the public JWKS document."""
        rsa_jwk = json.loads(RSAAlgorithm.to_jwk(self.rsa_key.public_key()))
        ec_jwk = json.loads(ECAlgorithm.to_jwk(self.ec_key.public_key()))
        rsa_jwk.update(kid=self.rsa_kid, alg="RS256", use="sig")
        ec_jwk.update(kid=self.ec_kid, alg="ES256", use="sig")
        return {"keys": [rsa_jwk, ec_jwk]}

    def rsa_public_pem(self) -> bytes:
        """Return the RSA public key as PEM (what an attacker would use for HS256)."""
        return self.rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def claims(
        self,
        subject: str,
        roles: tuple[str, ...],
        teams: tuple[str, ...] = (),
        *,
        expires_in: float = 300,
        **overrides: Any,
    ) -> dict[str, Any]:
        """Return standard claims for a person (override or drop any with None)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": subject,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + int(expires_in),
            "roles": list(roles),
            "teams": list(teams),
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(
        self,
        subject: str,
        *roles: Role | str,
        teams: tuple[str, ...] = (),
        algorithm: str = "RS256",
        **overrides: Any,
    ) -> str:
        """Return a correctly signed token (claims overridable)."""
        claims = self.claims(subject, tuple(str(r) for r in roles), teams, **overrides)
        if algorithm == "ES256":
            return jwt.encode(claims, self.ec_key, algorithm="ES256", headers={"kid": self.ec_kid})
        return jwt.encode(claims, self.rsa_key, algorithm="RS256", headers={"kid": self.rsa_kid})

    def hmac_token(self, claims: dict[str, Any], secret: bytes, kid: str) -> str:
        """Return an HS256 token signed with `secret` (RS/HS confusion when it is the RSA PEM)."""
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
        payload = _b64(json.dumps(claims).encode())
        signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"


@dataclass
class GatewayHarness:
    """A running gateway, its clients and its credentials."""

    running: RunningGateway
    channel: grpc.aio.Channel
    http: httpx.AsyncClient
    sso: Sso
    identity: IdentityKit
    settings: GatewaySettings
    api_keys: dict[str, str]
    keys_file: Path

    def bearer(self, token: str) -> tuple[tuple[str, str], ...]:
        """Return gRPC metadata carrying a bearer token."""
        return (("authorization", f"Bearer {token}"),)

    def person(
        self, subject: str, *roles: Role, teams: tuple[str, ...] = ()
    ) -> tuple[tuple[str, str], ...]:
        """Return gRPC metadata for a person with a valid SSO token."""
        return self.bearer(self.sso.token(subject, *roles, teams=teams))

    def person_headers(self, subject: str, *roles: Role) -> dict[str, str]:
        """Return HTTP headers for a person with a valid SSO token."""
        return {"authorization": f"Bearer {self.sso.token(subject, *roles)}"}

    def system(self, name: str = "core-banking") -> tuple[tuple[str, str], ...]:
        """Return gRPC metadata with a system's API key."""
        return (("x-api-key", self.api_keys[name]),)

    async def flush_audit(self) -> None:
        """Write every queued audit entry now."""
        await self.running.gateway.audit.flush()


def write_keys(path: Path, entries: list[ApiKeyEntry]) -> None:
    """Write an API keys file."""
    path.write_text(json.dumps({"keys": [e.to_json() for e in entries]}))


@asynccontextmanager
async def gateway_service(
    tmp: Path,
    identity: IdentityKit,
    *,
    client_addr: str = "127.0.0.1:1",
    notify_addr: str = "127.0.0.1:1",
    risk_addr: str = "127.0.0.1:1",
    **overrides: Any,
) -> AsyncIterator[GatewayHarness]:
    """Run a gateway for the duration of the block, with an SSO and two API keys."""
    sso = Sso()
    jwks_file = tmp / "jwks.json"
    jwks_file.write_text(json.dumps(sso.jwks()))
    core_key, core_entry = new_api_key("core-1", "core-banking", [Role.SYSTEM])
    old_key, old_entry = new_api_key("old-1", "retired-etl", [Role.SYSTEM])
    keys_file = tmp / "api_keys.json"
    write_keys(keys_file, [core_entry, dataclasses.replace(old_entry, revoked=True)])
    settings_fields: dict[str, Any] = {
        "grpc_port": 0,
        "http_port": 0,
        "database_url": f"sqlite+aiosqlite:///{tmp}/gateway.db",
        "client_addr": client_addr,
        "notify_addr": notify_addr,
        "risk_addr": risk_addr,
        "jwks_file": jwks_file,
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
        "api_keys_file": keys_file,
        "api_keys_reload_seconds": 0.0,
        "identity_signing_key_file": identity.private_files["gateway"],
        "identity_signing_kid": "gateway",
        "health_check_interval_seconds": 0.2,
        "grace_seconds": 1,
        "audit_flush_seconds": 0.05,
        **overrides,
    }
    settings = GatewaySettings(**settings_fields)
    migrate(settings)
    running = await start(await build(settings))
    channel = grpc.aio.insecure_channel(running.grpc.address)
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{running.http_port}", timeout=10)
    try:
        yield GatewayHarness(
            running,
            channel,
            http,
            sso,
            identity,
            settings,
            {"core-banking": core_key, "retired-etl": old_key},
            keys_file,
        )
    finally:
        await http.aclose()
        await channel.close()
        await running.stop(drain_seconds=0)


NOTIFY = "/crm.notify.v1.NotificationService"
RISK = "/crm.risk.v1.RiskService"


@dataclass
class Observed:
    """What the upstream saw of one call."""

    method: str
    metadata: dict[str, str]
    time_remaining: float | None
    principal: str = ""
    roles: tuple[str, ...] = ()
    cancelled: bool = False


class EchoUpstream(grpc.GenericRpcHandler):
    """A stand-in upstream (notify and risk paths) that records what reaches it.

    It verifies the gateway's identity token with the real TokenVerifier, like a service, and
    answers raw bytes (the gateway never decodes gRPC payloads, so any bytes do).
    """

    def __init__(self, identity: IdentityKit) -> None:
        from crm_runtime.auth import TokenVerifier

        self.verifier = TokenVerifier.from_dir(
            identity.directory, human_issuers=frozenset({"gateway"})
        )
        self.calls: list[Observed] = []
        self.server: grpc.aio.Server | None = None
        self.port = 0

    def _observe(self, method: str, context: grpc.aio.ServicerContext) -> Observed:
        metadata = {k: str(v) for k, v in context.invocation_metadata() or ()}
        seen = Observed(method, metadata, context.time_remaining())
        token = metadata.get("x-crm-identity")
        if token:
            principal = self.verifier.verify(token)
            seen.principal = principal.subject
            seen.roles = tuple(sorted(str(r) for r in principal.roles))
        self.calls.append(seen)
        return seen

    def service(self, details: grpc.HandlerCallDetails) -> Any:
        method = details.method
        kinds = {
            f"{NOTIFY}/GetMessage": (grpc.unary_unary_rpc_method_handler, self._echo),
            f"{NOTIFY}/GetTemplate": (grpc.unary_unary_rpc_method_handler, self._slow),
            f"{NOTIFY}/GetAlert": (grpc.unary_unary_rpc_method_handler, self._fail),
            f"{NOTIFY}/StreamMessages": (grpc.unary_stream_rpc_method_handler, self._fan_out),
            f"{RISK}/MonitorTransactions": (grpc.stream_stream_rpc_method_handler, self._bidi),
            # Unknown to the gateway's descriptors: a method of a newer build.
            f"{NOTIFY}/FutureUpload": (grpc.stream_unary_rpc_method_handler, self._collect),
        }
        if method not in kinds:
            return None
        make_handler, behaviour = kinds[method]
        return make_handler(behaviour(method))

    def _echo(self, method: str) -> Any:
        async def handle(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            self._observe(method, context)
            return b"echo:" + request

        return handle

    def _slow(self, method: str) -> Any:
        async def handle(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            seen = self._observe(method, context)
            try:
                await asyncio.sleep(1.0)
            except asyncio.CancelledError:
                seen.cancelled = True
                raise
            return b"slow"

        return handle

    def _fail(self, method: str) -> Any:
        async def handle(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            from google.rpc import code_pb2, error_details_pb2, status_pb2
            from grpc_status import rpc_status

            self._observe(method, context)
            status = status_pb2.Status(code=code_pb2.NOT_FOUND, message="alert not found")
            info = error_details_pb2.ErrorInfo(reason="ALERT_NOT_FOUND", domain="notify.crm")
            status.details.add().Pack(info)
            await context.abort_with_status(rpc_status.to_status(status))
            return b""

        return handle

    def _fan_out(self, method: str) -> Any:
        async def handle(request: bytes, context: grpc.aio.ServicerContext) -> Any:
            self._observe(method, context)
            for index in range(5):
                yield request + str(index).encode()

        return handle

    def _bidi(self, method: str) -> Any:
        async def handle(requests: Any, context: grpc.aio.ServicerContext) -> Any:
            self._observe(method, context)
            async for item in requests:
                yield item[::-1]

        return handle

    def _collect(self, method: str) -> Any:
        async def handle(requests: Any, context: grpc.aio.ServicerContext) -> bytes:
            self._observe(method, context)
            return b"|".join([item async for item in requests])

        return handle

    async def start(self, credentials: grpc.ServerCredentials | None = None) -> str:
        """Serve on a free port (TLS with `credentials`); return its address."""
        self.server = grpc.aio.server()
        self.server.add_generic_rpc_handlers((self,))
        if credentials is None:
            self.port = self.server.add_insecure_port("127.0.0.1:0")
        else:
            self.port = self.server.add_secure_port("127.0.0.1:0", credentials)
        await self.server.start()
        return f"127.0.0.1:{self.port}"

    async def stop(self) -> None:
        """Stop serving."""
        if self.server is not None:
            await self.server.stop(0)


@asynccontextmanager
async def gateway_with_echo(
    tmp: Path, identity: IdentityKit, **overrides: Any
) -> AsyncIterator[tuple[GatewayHarness, EchoUpstream]]:
    """Run a gateway whose notify and risk upstreams are one EchoUpstream."""
    upstream = EchoUpstream(identity)
    address = await upstream.start()
    try:
        async with gateway_service(
            tmp, identity, notify_addr=address, risk_addr=address, **overrides
        ) as gw:
            yield gw, upstream
    finally:
        await upstream.stop()


@dataclass
class Pki:
    """A throwaway CA with certificates for an upstream service and for the gateway."""

    directory: Path

    def _key(self) -> ec.EllipticCurvePrivateKey:
        return ec.generate_private_key(ec.SECP256R1())

    def _write(self, name: str, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
        (self.directory / f"{name}.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        (self.directory / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    def issue(self) -> Pki:
        """Create ca, server (SAN localhost) and gateway (client) certificates."""
        now = datetime.datetime.now(datetime.UTC)
        ca_key = self._key()
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "crm test ca")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        self._write("ca", ca_key, ca)
        for name, usage in (("server", ExtendedKeyUsageOID.SERVER_AUTH),
                            ("gateway", ExtendedKeyUsageOID.CLIENT_AUTH)):
            key = self._key()
            cert = (
                x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                .issuer_name(ca_name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=1))
                .not_valid_after(now + datetime.timedelta(hours=1))
                .add_extension(
                    x509.SubjectAlternativeName(
                        [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]
                    ),
                    False,
                )
                .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                .sign(ca_key, hashes.SHA256())
            )
            self._write(name, key, cert)
        return self

    def path(self, name: str) -> Path:
        """Return the file of `name` (ca.crt, server.key, gateway.crt...)."""
        return self.directory / name

    def channel_credentials(self, *, client_cert: bool = False) -> grpc.ChannelCredentials:
        """Return a caller's TLS credentials trusting this CA, with the client certificate
        ("gateway", issued for client authentication) when `client_cert`."""
        read = lambda name: (self.directory / name).read_bytes()  # noqa: E731
        if not client_cert:
            return grpc.ssl_channel_credentials(read("ca.crt"))
        return grpc.ssl_channel_credentials(
            read("ca.crt"), read("gateway.key"), read("gateway.crt")
        )

    def server_credentials(self) -> grpc.ServerCredentials:
        """Return credentials of an upstream that requires a client certificate."""
        read = lambda name: (self.directory / name).read_bytes()  # noqa: E731
        return grpc.ssl_server_credentials(
            [(read("server.key"), read("server.crt"))],
            root_certificates=read("ca.crt"),
            require_client_auth=True,
        )
