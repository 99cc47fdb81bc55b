"""Helpers for tests, benchmarks and the demo: identity keys, tokens, throwaway stores.

Shipped with the runtime (like structlog.testing) so tests, bench/ and the demo launcher share
one implementation.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from crm_runtime.auth import IDENTITY_METADATA_KEY, Role, TokenSigner, generate_signing_key
from crm_runtime.crypto import new_key

POSTGRES_ADMIN_URL_ENV = "CRM_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class IdentityKit:
    """A key directory with the gateway's and each service's public keys, plus signers."""

    directory: Path
    signers: dict[str, TokenSigner]
    private_files: dict[str, Path]

    @classmethod
    def create(
        cls,
        directory: Path,
        kids: Iterable[str] = ("gateway", "client", "risk", "notify", "feedback"),
    ) -> IdentityKit:
        """Generate one key pair per kid under `directory` (public keys in `trusted/`)."""
        trusted = directory / "trusted"
        private = directory / "private"
        trusted.mkdir(parents=True, exist_ok=True)
        private.mkdir(parents=True, exist_ok=True)
        signers: dict[str, TokenSigner] = {}
        files: dict[str, Path] = {}
        for kid in kids:
            private_pem, public_pem = generate_signing_key()
            (trusted / f"{kid}.pem").write_bytes(public_pem)
            path = private / f"{kid}.pem"
            path.write_bytes(private_pem)
            path.chmod(0o600)
            files[kid] = path
            signers[kid] = TokenSigner(private_pem, kid)
        return cls(trusted, signers, files)

    def metadata(
        self, subject: str, *roles: Role | str, teams: Iterable[str] = (), kid: str = "gateway"
    ) -> tuple[tuple[str, str], ...]:
        """Return call metadata carrying a token for `subject`."""
        token = self.signers[kid].mint(subject, roles, teams=teams)
        return ((IDENTITY_METADATA_KEY, token),)

    def env(self, service: str) -> dict[str, str]:
        """Return the identity environment variables for a service process."""
        return {
            "IDENTITY_TRUSTED_KEYS_DIR": str(self.directory),
            "IDENTITY_SIGNING_KEY_FILE": str(self.private_files[service]),
            "IDENTITY_SIGNING_KID": service,
        }


def pii_env() -> dict[str, str]:
    """Return fresh personal-data keys as environment variables."""
    return {"PII_ENCRYPTION_KEY": new_key(), "PII_INDEX_KEY": new_key()}


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_admin_url() -> str:
    """Return the admin URL of the test PostgreSQL server."""
    return os.environ.get(POSTGRES_ADMIN_URL_ENV, DEFAULT_POSTGRES_ADMIN)


async def postgres_available() -> bool:
    """Return True if the test PostgreSQL server answers."""
    import asyncpg

    try:
        conn = await asyncio.wait_for(asyncpg.connect(postgres_admin_url()), timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


async def create_postgres_database() -> tuple[str, str]:
    """Create an empty database; return (SQLAlchemy async URL, database name)."""
    import asyncpg

    name = f"crm_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(postgres_admin_url())
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = postgres_admin_url().rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}", name


async def drop_postgres_database(name: str) -> None:
    """Drop a database made by create_postgres_database, closing its connections."""
    import asyncpg

    conn = await asyncpg.connect(postgres_admin_url())
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
