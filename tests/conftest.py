"""Shared fixtures: fresh generated code, identity keys, throwaway stores on both backends.

Tests that take `store_url` run once on SQLite and once on PostgreSQL (when the server on
127.0.0.1:5432, or CRM_TEST_POSTGRES_URL, answers; CI guarantees it does).
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import structlog

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools.gen_protos import generate  # noqa: E402

# CRM_SKIP_CODEGEN=1 reuses gen/python as it is (while someone edits a proto mid-way).
if not os.environ.get("CRM_SKIP_CODEGEN"):
    generate()

import crm_runtime.logging as runtime_logging  # noqa: E402
from crm_runtime import testing  # noqa: E402

# Commands run in-process by tests (e.g. crm_risk.evaluate_service.main) configure logging;
# with caching on, loggers would stay bound to that configuration and later tests could no
# longer capture log lines. Tests therefore always configure without the cache.
_configure_logging = runtime_logging.configure_logging


def _configure_logging_uncached(**kwargs: object) -> None:
    kwargs["cache"] = False
    _configure_logging(**kwargs)  # type: ignore[arg-type]


runtime_logging.configure_logging = _configure_logging_uncached  # type: ignore[assignment]
from crm_runtime.testing import IdentityKit  # noqa: E402

_PG_AVAILABLE: bool | None = None


async def _postgres_available() -> bool:
    global _PG_AVAILABLE  # noqa: PLW0603 - probed once per session.
    if _PG_AVAILABLE is None:
        _PG_AVAILABLE = await testing.postgres_available()
    return _PG_AVAILABLE


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(ROOT / "var" / "hypothesis"))


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    """Undo any logging configuration a test made (levels and processors are global)."""
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="session")
def identity(tmp_path_factory: pytest.TempPathFactory) -> IdentityKit:
    """Identity keys for the gateway and every service."""
    return IdentityKit.create(tmp_path_factory.mktemp("identity"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty store URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/store.db"
        return
    async for url in _fresh_postgres():
        yield url


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database (for tests that need several processes on one store)."""
    async for url in _fresh_postgres():
        yield url


async def _fresh_postgres() -> AsyncIterator[str]:
    """Yield a new PostgreSQL database's URL and drop the database afterwards (skip, or fail
    in CI, when no server answers)."""
    if not await _postgres_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is required in CI but does not answer")
        pytest.skip("PostgreSQL not available")
    url, name = await testing.create_postgres_database()
    try:
        yield url
    finally:
        await testing.drop_postgres_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    """A fresh SQLite store URL (for tests that inspect the file itself)."""
    yield f"sqlite+aiosqlite:///{tmp_path}/store.db"


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[testing.NatsServer]:
    """A private nats-server with JetStream on a free port (its own streams, restartable)."""
    server = testing.start_nats_server(tmp_path / "nats")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["grpc", "nats"])
def event_transport(request: pytest.FixtureRequest) -> str:
    """The event transport under test: gRPC push, or NATS JetStream."""
    return str(request.param)
