"""Alembic support shared by every service: `alembic upgrade head` under a lock.

Each service keeps its own migrations folder; its env.py calls `run_env(metadata)`. On
PostgreSQL an advisory lock makes concurrent replicas (initContainers) migrate one at a time.
"""

from __future__ import annotations

import asyncio
import os
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from crm_runtime.db import _sqlite_pragmas

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic (and Mako under it) is imported where it is used, not with the module: a service
# whose store an initContainer migrated (MIGRATE_ON_START=0) then never loads it (~11 MB).


def alembic_config(script_location: Path, url: str) -> Config:
    """Return an Alembic config for a service's migrations folder and store."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_head(script_location: Path, url: str) -> None:
    """Bring the store at `url` to the newest schema."""
    from alembic import command

    command.upgrade(alembic_config(script_location, url), "head")


def _run_sync(connection: Connection, metadata: MetaData) -> None:
    from alembic import context

    lock_id = zlib.crc32(str(context.config.get_main_option("script_location")).encode())
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": lock_id})
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id})


async def _run_async(url: str, metadata: MetaData) -> None:
    engine = create_async_engine(url)
    if engine.dialect.name == "sqlite":
        from sqlalchemy import event

        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync, metadata)
        await connection.commit()
    await engine.dispose()


def run_env(metadata: MetaData) -> None:
    """Body of a service's migrations/env.py (online mode only)."""
    from alembic import context

    # The service's own calls set the URL; Alembic's CLI (`alembic -c services/<svc>/alembic.ini
    # ...`) reads it from DATABASE_URL, the variable the service itself reads.
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("set DATABASE_URL (or sqlalchemy.url) to the store to migrate")
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is None:
        asyncio.run(_run_async(url, metadata))
    else:  # Called from async code (tests): run in a helper thread with its own loop.
        import threading

        errors: list[BaseException] = []

        def target() -> None:
            try:
                asyncio.run(_run_async(url, metadata))
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=target)
        thread.start()
        thread.join()
        if errors:
            raise errors[0]


def service_metadata(table_names: list[str]) -> MetaData:
    """Return a MetaData holding only one service's tables plus the runtime's tables."""
    from sqlmodel import SQLModel

    from crm_runtime.tables import RUNTIME_TABLES

    metadata = MetaData()
    for name in [*RUNTIME_TABLES, *table_names]:
        SQLModel.metadata.tables[name].to_metadata(metadata)
    return metadata
