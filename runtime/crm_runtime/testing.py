"""Helpers for tests, benchmarks and the demo: identity keys, tokens, throwaway stores.

Shipped with the runtime (like structlog.testing) so tests, bench/ and the demo launcher share
one implementation.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
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


@dataclass
class NatsServer:
    """A private nats-server with JetStream, on a free port with its store in `folder`.

    Tests that restart the broker or create streams run their own, so parallel tests and other
    users of the machine's server on 4222 never see each other's streams. Restarts keep the
    port and the store, as a real server restart would.
    """

    folder: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the nats:// URL clients connect to."""
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        """Start the server (again) and wait until it accepts connections."""
        binary = shutil.which("nats-server")
        if binary is None:
            raise RuntimeError("nats-server is not installed (./run.sh test installs it)")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        log = (self.folder / "server.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own binary and arguments.
            [binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd",
             str(self.folder / "store")],
            stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(
                ("127.0.0.1", self.port), timeout=0.5
            ):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"nats-server did not start: {(self.folder / 'server.log').read_text()}")

    def kill(self) -> None:
        """SIGKILL the server (JetStream recovers its file store on the next start)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def restart(self) -> None:
        """Kill and start again on the same port and store."""
        self.kill()
        self.start()

    def stop(self) -> None:
        """Stop the server gracefully (SIGKILL if it lingers)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def start_nats_server(folder: Path) -> NatsServer:
    """Start a private JetStream server storing under `folder`; the caller stops it."""
    server = NatsServer(folder)
    server.start()
    return server
