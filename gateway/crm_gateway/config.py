"""Settings of the gateway: upstreams, caller authentication, limits and audit."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, model_validator

from crm_runtime.config import BaseServiceSettings

# gRPC package prefix → the setting that holds its upstream address.
UPSTREAM_PREFIXES = {
    "crm.client.": "client_addr",
    "crm.risk.": "risk_addr",
    "crm.notify.": "notify_addr",
    "crm.feedback.": "feedback_addr",
}


class GatewaySettings(BaseServiceSettings):
    """Gateway settings; identity signing key and a caller authentication method are required."""

    service_name: str = "gateway"
    grpc_port: int = 50060
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    database_url: str = "sqlite+aiosqlite:///var/gateway.db"
    # Name of this gateway instance in its audit chain ids: INSTANCE_NAME, else POD_NAME (set
    # by the Kubernetes deployment).
    instance_name: str = Field(
        default="gateway", validation_alias=AliasChoices("instance_name", "pod_name")
    )

    # Upstream services, host:port (dns:/// targets work too).
    client_addr: str = "127.0.0.1:50061"
    risk_addr: str = "127.0.0.1:50062"
    notify_addr: str = "127.0.0.1:50063"
    feedback_addr: str = "127.0.0.1:50064"
    # Optional mTLS to upstreams: CA bundle and this gateway's client certificate and key.
    # Plaintext when unset (development; in Kubernetes the mesh may terminate mTLS instead).
    upstream_tls_ca_file: Path | None = None
    upstream_tls_cert_file: Path | None = None
    upstream_tls_key_file: Path | None = None
    upstream_tls_server_name: str = ""

    # People: JWTs from the bank's SSO, verified against a JWKS file or URL.
    jwks_file: Path | None = None
    jwks_url: str = ""
    jwks_refresh_seconds: float = 300.0
    jwt_issuer: str = ""
    jwt_audience: str = ""
    # Pinned algorithms; anything else (none, HS*) is refused before the signature is checked.
    jwt_algorithms: str = "RS256,ES256"
    jwt_leeway_seconds: int = 30
    jwt_roles_claim: str = "roles"
    jwt_teams_claim: str = "teams"
    # Tokens whose expiry lies further ahead than this are refused (no everlasting tokens).
    jwt_max_lifetime_seconds: int = 86_400
    # Systems: API keys stored as hashes in a JSON file, reloaded when it changes.
    api_keys_file: Path | None = None
    # Optional secret mixed into API key hashes (HMAC-SHA256) so a stolen file is not enough.
    api_key_pepper: str = ""
    api_keys_reload_seconds: float = 2.0

    # Method-level access rules; the packaged table when unset.
    access_rules_file: Path | None = None

    # Deadlines given to calls whose caller set none; streams live longer (push streams).
    default_deadline_seconds: float = 10.0
    default_stream_deadline_seconds: float = 3600.0
    # Per-principal token bucket and in-flight cap.
    rate_limit_per_second: float = 100.0
    rate_limit_burst: float = 200.0
    max_in_flight_per_principal: int = 64
    # Open streams per principal, counted apart from unary calls (issue 11, defect 7).
    max_streams_per_principal: int = 1024
    # Failed authentications per client address, and per presented credential, before
    # RESOURCE_EXHAUSTED (brute force). A credential that authenticated recently is still
    # admitted from a locked address, so a noisy neighbour cannot lock a valid caller out.
    auth_failures_per_minute: float = 30.0
    # With REDIS_URL set, both limits above are counted in Redis for every replica together;
    # a check waits at most this long for Redis before this replica decides alone.
    redis_timeout_seconds: float = 0.25
    # The client address behind the ingress: this header (e.g. "x-forwarded-for") is believed
    # only from peers in TRUSTED_PROXIES (comma-separated CIDRs); unset: the peer's address.
    trusted_proxy_header: str = ""
    trusted_proxies: str = ""
    max_http_body_bytes: int = 4 * 1024 * 1024
    # Serve the HTTP face over TLS too, with the gRPC face's certificate (GRPC_TLS_CERT_FILE,
    # GRPC_TLS_KEY_FILE) and, under GRPC_TLS_CLIENT_AUTH=require, its client CA.
    http_tls: bool = False
    # Push to HTTP-only clients (server-sent events): a comment line this often keeps idle
    # connections open through proxies; tickets let EventSource, which cannot set headers,
    # open a stream without putting a long-lived credential in a URL.
    events_heartbeat_seconds: float = 15.0
    events_ticket_seconds: int = 60
    # The staff workbench under /console/ (docs/CONSOLE.md): where its login page obtains a
    # person's token (the SSO's token endpoint; unset: no login, the pages answer 503), the
    # base64 AES key sealing its session cookies (unset: a random key per process, so sessions
    # end with the process and do not cross replicas), and Secure cookies behind HTTPS.
    console_enabled: bool = True
    console_sso_token_url: str = ""
    console_session_key: str = ""
    console_secure_cookies: bool = False

    # Audit writer: batches off the hot path; calls are refused when the backlog is full.
    audit_flush_seconds: float = 0.2
    audit_batch_size: int = 1000
    audit_max_backlog: int = 50_000
    # Base64 key for the chain's HMAC; without it the chain uses a fixed public key, which
    # detects edits but lets someone with write access to the store rebuild the chain.
    audit_chain_key: str = ""

    @model_validator(mode="after")
    def _authentication_configured(self) -> GatewaySettings:
        if self.identity_signing_key_file is None:
            raise ValueError("IDENTITY_SIGNING_KEY_FILE is required: the gateway mints identities")
        has_jwt = self.jwks_file is not None or bool(self.jwks_url)
        if has_jwt and (not self.jwt_issuer or not self.jwt_audience):
            raise ValueError("JWT_ISSUER and JWT_AUDIENCE are required with a JWKS")
        if not has_jwt and self.api_keys_file is None:
            raise ValueError("configure JWKS_FILE/JWKS_URL or API_KEYS_FILE (no way to log in)")
        if self.http_tls and (self.grpc_tls_cert_file is None or self.grpc_tls_key_file is None):
            raise ValueError("HTTP_TLS needs GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE")
        if self.is_platform and not self.audit_chain_key:
            # The fallback key is public: with it, whoever can write the audit store can
            # rebuild a consistent chain over edited records.
            raise ValueError(
                f"AUDIT_CHAIN_KEY is required in {self.deployment_environment}"
                " (base64 of 32 random bytes)"
            )
        return self

    def upstreams(self) -> dict[str, str]:
        """Return gRPC package prefix → upstream address."""
        return {prefix: str(getattr(self, attr)) for prefix, attr in UPSTREAM_PREFIXES.items()}

    def algorithms(self) -> tuple[str, ...]:
        """Return the pinned JWT algorithms."""
        return tuple(a.strip() for a in self.jwt_algorithms.split(",") if a.strip())

    def http_tls_options(self) -> dict[str, Any]:
        """Return uvicorn's TLS options: the gRPC face's certificate, when HTTP_TLS is on."""
        if not self.http_tls:
            return {}
        options: dict[str, Any] = {
            "ssl_certfile": str(self.grpc_tls_cert_file),
            "ssl_keyfile": str(self.grpc_tls_key_file),
        }
        if self.grpc_tls_client_auth == "require" and self.grpc_tls_client_ca_file:
            options["ssl_ca_certs"] = str(self.grpc_tls_client_ca_file)
            options["ssl_cert_reqs"] = ssl.CERT_REQUIRED
        return options
