"""A client service process, synthetic books and the importer CLI, for the import tests."""

from __future__ import annotations

import csv
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from process_harness import ROOT, ServiceProcess

from crm_runtime.auth import IDENTITY_METADATA_KEY, Role
from crm_runtime.testing import IdentityKit, pii_env
from crm_sim.book.__main__ import write_book


def service(tmp: Path, kit: IdentityKit) -> ServiceProcess:
    """Return (not yet started) a client service on SQLite in `tmp`."""
    env = {
        **pii_env(),
        **kit.env("client"),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/client.db",
        "LOG_LEVEL": "warning",
    }
    return ServiceProcess("crm_client", env, tmp / "client.log")


def make_book(path: Path, count: int, *, bad_percent: float = 0.0) -> dict[int, str]:
    """Write a book; return the spoiled rows' numbers and the field each spoils."""
    truth = path.with_name(path.name + ".truth.csv")
    write_book(path, count, bad_percent=bad_percent, seed=11, truth=truth)
    with truth.open(encoding="utf-8") as handle:
        return {int(row["row"]): row["field"] for row in csv.DictReader(handle)}


def importer(
    book: Path,
    target: str,
    kit: IdentityKit,
    *extra: str,
    import_id: str = "test-book",
) -> subprocess.Popen[bytes]:
    """Start `python -m crm_import` as a system caller."""
    token = dict(kit.metadata("systems/book-migration", Role.SYSTEM))[IDENTITY_METADATA_KEY]
    env = {**os.environ, "CRM_IMPORT_HEADER": f"{IDENTITY_METADATA_KEY}={token}"}
    command = [sys.executable, "-m", "crm_import", str(book), "--target", target, "--quiet"]
    command += ["--import-id", import_id, *extra]
    return subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def report(book: Path) -> list[tuple[int, str, str]]:
    """Return the importer's error report of `book`."""
    with book.with_name(book.name + ".errors.csv").open(encoding="utf-8") as handle:
        return [(int(r["row"]), r["field"], r["reason"]) for r in csv.DictReader(handle)]


def scalar(db: Path, sql: str) -> int:
    """Return one number from the service's store."""
    with sqlite3.connect(db) as connection:
        return int(connection.execute(sql).fetchone()[0])
