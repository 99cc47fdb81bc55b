"""Bulk import of a synthetic book (default 1,000,000 clients) with a kill -9 half-way.

One client service on SQLite (pinned to the server CPU, as the other benchmarks) with three
event subscribers configured, so every ClientCreated and SegmentMembershipChanged is written
to the outbox for each of them as in production (nobody listens at their address; the relay
backs off). The importer runs as its own process (`python -m crm_import`). When half of the
chunks are answered the service is killed with SIGKILL; it is restarted and the importer is
run again with --resume. The store is then counted: clients, distinct credit codes, key
persons, recorded chunks. Rows: IMPORT_BENCH_ROWS (default 1,000,000); IMPORT_BENCH_BOOK may
name a book of exactly that many rows generated before.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.tools import ROOT, wait_ready
from crm_runtime.auth import IDENTITY_METADATA_KEY, Role
from crm_runtime.testing import IdentityKit, free_port, pii_env

CHUNK_ROWS = 2000
IMPORT_ID = "bench-book"


def _rows() -> int:
    return int(os.environ.get("IMPORT_BENCH_ROWS", "1000000"))


def _service(tmp: Path, kit: IdentityKit, port: int) -> subprocess.Popen[bytes]:
    dead = free_port()  # Nobody listens here: the outbox rows are written, never delivered.
    env = {
        **pii_env(),
        **kit.env("client"),
        "GRPC_PORT": str(port),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/client.db",
        "EVENT_SUBSCRIBERS": ",".join(
            f"{name}=127.0.0.1:{dead}" for name in ("risk", "notify", "feedback")
        ),
        "LOG_LEVEL": "warning",
    }
    # Not pinned, unlike the other benchmarks: on a machine shared with other work, one pinned
    # CPU is whatever the others leave of it. The service's own CPU time is recorded instead.
    with (tmp / "client.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "crm_client"],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


def _cpu_seconds(pid: int) -> float:
    """Return the user + system CPU time a live process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _importer(book: Path, port: int, kit: IdentityKit, *, resume: bool) -> subprocess.Popen[bytes]:
    # Tokens live 5 minutes by default; an import crosses several streams over longer than that
    # (a real migration would use the gateway with an API key).
    token = kit.signers["gateway"].mint("systems/book-migration", [Role.SYSTEM], ttl_seconds=7200)
    args = [sys.executable, "-m", "crm_import", str(book), "--target", f"127.0.0.1:{port}"]
    args += ["--import-id", IMPORT_ID, "--chunk-rows", str(CHUNK_ROWS)]
    args += ["--resume", "--quiet"] if resume else ["--quiet"]
    env = {**os.environ, "CRM_IMPORT_HEADER": f"{IDENTITY_METADATA_KEY}={token}"}
    return subprocess.Popen(args, env=env, cwd=ROOT, stderr=subprocess.PIPE)


def _reported(book: Path) -> int:
    try:
        return int((book.with_name(book.name + ".errors.csv.progress")).read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as con:

        def one(sql: str) -> int:
            return int(con.execute(sql).fetchone()[0])

        return {
            "clients": one("SELECT count(*) FROM client"),
            "distinct_credit_codes": one("SELECT count(DISTINCT credit_code) FROM client"),
            "key_persons": one("SELECT count(*) FROM key_person"),
            "assignments": one("SELECT count(*) FROM assignment"),
            "chunks_recorded": one("SELECT count(*) FROM client_import_chunk"),
            "distinct_chunks": one(
                "SELECT count(DISTINCT chunk_sequence) FROM client_import_chunk"
            ),
            "outbox_rows": one("SELECT count(*) FROM outbox_message"),
            "import_loaded_row_count": one("SELECT loaded_row_count FROM client_import"),
        }


def _generate(book: Path, rows: int) -> None:
    reuse = Path(os.environ.get("IMPORT_BENCH_BOOK", ""))
    if reuse.is_file():  # A book generated before (generating 1,000,000 rows takes minutes).
        book.symlink_to(reuse)
        return
    command = [sys.executable, "-m", "crm_sim.book", str(book), "--count", str(rows)]
    subprocess.run(command, check=True, cwd=ROOT)


def _wait_for_chunk(book: Path, importer: subprocess.Popen[bytes], chunk: int) -> int:
    """Wait until `chunk` is answered (or the importer ended); return the last answered."""
    while _reported(book) < chunk and importer.poll() is None:
        time.sleep(0.2)
    return _reported(book)


async def run() -> dict[str, Any]:
    """Generate the book, import it with a kill -9 at half-way and a resume; count the store."""
    rows = _rows()
    tmp = Path(tempfile.mkdtemp(prefix="crm-import-bench-"))
    book = tmp / "book.jsonl"
    started = time.monotonic()
    _generate(book, rows)
    print(f"generated {rows:,} rows in {time.monotonic() - started:.0f} s", flush=True)
    kit = IdentityKit.create(tmp / "identity")
    port = free_port()
    chunks = -(-rows // CHUNK_ROWS)
    service = _service(tmp, kit, port)
    await wait_ready(f"127.0.0.1:{port}", "crm.client.v1.ClientService", timeout=120)
    began = time.monotonic()
    first = _importer(book, port, kit, resume=False)
    killed_at = _wait_for_chunk(book, first, chunks // 2)
    cpu = _cpu_seconds(service.pid)
    # Both die at once, as in a host failure: the resumed run has only the service's record
    # and the importer's progress file to go on.
    service.send_signal(signal.SIGKILL)
    first.send_signal(signal.SIGKILL)
    service.wait(30)
    first.wait(30)
    lost = time.monotonic()
    service = _service(tmp, kit, port)
    await wait_ready(f"127.0.0.1:{port}", "crm.client.v1.ClientService", timeout=120)
    restart_seconds = time.monotonic() - lost
    second = _importer(book, port, kit, resume=True)
    _, tail = second.communicate()
    seconds = time.monotonic() - began
    cpu += _cpu_seconds(service.pid)
    service.send_signal(signal.SIGTERM)
    service.wait(60)
    counts = _counts(tmp / "client.db")
    return {
        "rows": rows,
        "chunk_rows": CHUNK_ROWS,
        "seconds": round(seconds, 1),
        "clients_per_s": round(counts["clients"] / seconds, 1),
        "service_cpu_seconds": round(cpu, 1),
        "service_cpu_ms_per_client": round(1000 * cpu / max(counts["clients"], 1), 3),
        "killed_after_chunk": killed_at,
        "restart_seconds": round(restart_seconds, 1),
        "resume_exit_code": second.returncode,
        "resume_summary": tail.decode(errors="replace").strip().splitlines()[-1:],
        "counts": counts,
        "duplicates": counts["clients"] - counts["distinct_credit_codes"],
        "exact": counts["clients"] == rows and counts["distinct_chunks"] == chunks,
        "load_average_at_end": os.getloadavg(),
        "note": "indicative only: measured on a shared, loaded 2-core machine",
    }


def write_results(results: dict[str, Any]) -> Path:
    """Write bench/results/import-<rows>.json and .md; return the .md path."""
    folder = ROOT / "bench" / "results"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"import-{results['rows']}"
    (folder / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    c = results["counts"]
    text = (
        f"Imported {results['rows']:,} clients with key persons in {results['seconds']} s "
        f"(**{results['clients_per_s']} clients/s**), the service and the importer killed "
        f"with SIGKILL after "
        f"chunk {results['killed_after_chunk']} and the import resumed. The service used "
        f"{results['service_cpu_seconds']} s of CPU ({results['service_cpu_ms_per_client']} ms "
        f"per client).\n\n"
        f"Stored: {c['clients']:,} clients, {c['distinct_credit_codes']:,} distinct credit codes "
        f"({results['duplicates']} duplicates), {c['key_persons']:,} key persons, "
        f"{c['chunks_recorded']} chunks recorded; exact: {results['exact']}.\n\n"
        f"{results['note']} (load average at the end {results['load_average_at_end']}).\n"
    )
    path = folder / f"{name}.md"
    path.write_text(text)
    return path


if __name__ == "__main__":
    print(write_results(asyncio.run(run())).read_text())
