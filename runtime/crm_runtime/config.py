"""Service configuration from the environment (the only place that reads it)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_runtime.keyring import Keyring, parse_keyring


class BaseServiceSettings(BaseSettings):
    """Settings every service shares; services subclass it to add their own."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    service_name: str = Field(default="service")
    # Where this process runs (the overlays set dev, staging or prod). Settings that may fall
    # back to a development default on a laptop are required where it says staging or prod.
    deployment_environment: str = "local"
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50051
    # SQLite file by default so one command runs everything on one machine; PostgreSQL in
    # production ("postgresql+asyncpg://user@host/db").
    database_url: str = "sqlite+aiosqlite:///var/service.db"
    log_level: str = "info"
    reflection: bool = True
    # Graceful shutdown: health goes NOT_SERVING, we wait drain_seconds for load balancers to
    # notice, then give in-flight calls grace_seconds to finish.
    drain_seconds: float = 0.0
    grace_seconds: float = 10.0
    # Calls running at once; past these the process answers RESOURCE_EXHAUSTED with a
    # RetryInfo at once (crm_runtime.admission). Long-lived streams have their own limit.
    max_concurrent_rpcs: int = 256
    max_concurrent_streams: int = 12_000
    max_receive_message_bytes: int = 4 * 1024 * 1024
    # Connections are recycled so that clients re-resolve and spread over new replicas.
    max_connection_age_ms: int = 300_000
    health_check_interval_seconds: float = 1.0
    # TLS on this process's gRPC port (crm_runtime.tls): certificate chain and key, PEM.
    # Plaintext when unset (one machine, or a mesh terminating TLS). With a client CA,
    # GRPC_TLS_CLIENT_AUTH=require admits only callers presenting a certificate it signed.
    grpc_tls_cert_file: Path | None = None
    grpc_tls_key_file: Path | None = None
    grpc_tls_client_ca_file: Path | None = None
    grpc_tls_client_auth: str = "none"
    # Prometheus scrape endpoint (/metrics), on grpc_host; 0 turns it off.
    metrics_port: int = 0
    # How often gauges that need the store (outbox backlog, queue depths) are re-counted.
    metrics_sample_seconds: float = 5.0

    # Caller identity: trusted public keys (one PEM file per key id, file name = kid) and,
    # for services that call others, this service's own signing key.
    identity_trusted_keys_dir: Path | None = None
    identity_signing_key_file: Path | None = None
    identity_signing_kid: str = ""
    # Key ids allowed to assert human roles; every other trusted key may only assert "system".
    identity_human_issuers: str = "gateway"

    # Personal data encryption (AES-256-GCM) and blind-index key, base64 of 32 bytes each.
    pii_encryption_key: str = ""
    pii_index_key: str = ""
    # Key for opaque page tokens, base64 of 32 bytes; random per process when empty.
    page_token_key: str = ""

    # Keyrings (crm_runtime.keyring): "kid:base64,kid:base64" or a JSON object, and the id of
    # the key new data is sealed with. The single keys above join their ring as "legacy".
    pii_keyring: str = ""
    pii_active_key_id: str = ""
    page_token_keyring: str = ""
    page_token_active_key_id: str = ""
    # Background re-encryption of personal data not under the active key (crm_runtime.rekey).
    reencrypt_interval_seconds: float = 60.0
    reencrypt_batch_size: int = 100

    # Event subscribers of this service's outbox: "name=host:port,name2=host:port".
    event_subscribers: str = ""
    relay_interval_seconds: float = 0.2
    relay_batch_size: int = 200
    # Event transport: "grpc" pushes outbox rows to EVENT_SUBSCRIBERS (the one-machine default);
    # "nats" publishes them to JetStream subjects crm.events.<kind> and consumers read with
    # durable consumers, so producers need not know who listens (crm_runtime.broker).
    event_transport: str = "grpc"
    nats_url: str = "nats://127.0.0.1:4222"
    # The CRM_EVENTS stream (crm_runtime.jetstream): limits retention, file storage. Messages
    # older than max_age, or past max_bytes (oldest first), are dropped whether read or not,
    # so a consumer must not stay down longer than max_age. Publishes repeated within the
    # duplicate window (same event id) are stored once.
    jetstream_max_age_hours: float = 168.0
    jetstream_max_bytes: int = 8 * 1024**3
    jetstream_duplicate_window_seconds: float = 120.0
    jetstream_replicas: int = 1
    jetstream_api_timeout_seconds: float = 5.0
    # Consumers: an event not acknowledged within ack_wait is offered again (to any replica).
    jetstream_ack_wait_seconds: float = 30.0
    jetstream_fetch_batch: int = 100
    # Shared counters (gateway rate limits, lockout) across replicas; empty keeps them in memory.
    redis_url: str = ""

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.lower()
        if level not in {"debug", "info", "warning", "error"}:
            raise ValueError(f"unknown log level {value!r}")
        return level

    @field_validator("grpc_tls_client_auth")
    @classmethod
    def _known_client_auth(cls, value: str) -> str:
        mode = value.lower()
        if mode not in {"none", "require"}:
            # gRPC's server credentials either require and verify a client certificate or do
            # not ask for one: a middle mode would accept unverified certificates.
            raise ValueError(f"GRPC_TLS_CLIENT_AUTH must be none or require, not {value!r}")
        return mode

    @field_validator("event_transport")
    @classmethod
    def _known_transport(cls, value: str) -> str:
        transport = value.lower()
        if transport not in {"grpc", "nats"}:
            raise ValueError(f"EVENT_TRANSPORT must be grpc or nats, not {value!r}")
        return transport

    @property
    def is_platform(self) -> bool:
        """Return True on a shared platform (staging, prod), where development fallbacks end."""
        return self.deployment_environment.lower() in {"staging", "prod", "production"}

    def subscribers(self) -> dict[str, str]:
        """Return the configured event subscribers as name → address."""
        result: dict[str, str] = {}
        for item in filter(None, (part.strip() for part in self.event_subscribers.split(","))):
            name, sep, address = item.partition("=")
            if not sep or not name or not address:
                raise ValueError(f"EVENT_SUBSCRIBERS entry {item!r} is not name=address")
            result[name.strip()] = address.strip()
        return result

    def human_issuers(self) -> frozenset[str]:
        """Return key ids that may assert human roles."""
        return frozenset(k.strip() for k in self.identity_human_issuers.split(",") if k.strip())

    def pii_keys(self) -> Keyring | None:
        """Return the personal-data keyring, or None when no key is configured."""
        return parse_keyring(
            self.pii_keyring, self.pii_active_key_id, legacy=self.pii_encryption_key,
            name="PII_KEYRING",
        )

    def page_token_keys(self) -> Keyring | None:
        """Return the page-token keyring, or None (a random key per process) when unset."""
        return parse_keyring(
            self.page_token_keyring, self.page_token_active_key_id,
            legacy=self.page_token_key, name="PAGE_TOKEN_KEYRING",
        )
