"""A throwaway PostgreSQL cluster of the chaos suite's own, so it may restart it at will.

The machine's cluster on 5432 is shared with other tests; restarting it would break them.
This one lives in a temporary folder, listens on its own port and belongs to the postgres OS
user (the server refuses to run as root). Debian's server binaries are used directly.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from crm_runtime.testing import free_port


def _bin_dir() -> Path | None:
    root = Path("/usr/lib/postgresql")
    if not root.is_dir():
        return None
    versions = sorted((p for p in root.iterdir() if (p / "bin" / "pg_ctl").exists()),
                      key=lambda p: int(p.name) if p.name.isdigit() else 0)
    return versions[-1] / "bin" if versions else None


def available() -> bool:
    """Return True if a private cluster can be made here (server binaries, a postgres user)."""
    return _bin_dir() is not None and shutil.which("runuser") is not None


@dataclass
class ChaosCluster:
    """A private cluster: its data folder, port and pg_ctl."""

    folder: Path
    port: int

    @property
    def admin_url(self) -> str:
        """Return the asyncpg URL of the `postgres` database (trust auth on 127.0.0.1)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        bin_dir = _bin_dir()
        assert bin_dir is not None
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(bin_dir / "pg_ctl"), "-D",
             str(self.folder / "data"), "-l", str(self.folder / "server.log"), *args],
            check=True, capture_output=True, timeout=120, cwd=self.folder,
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._pg_ctl("-w", "-o", options, "start")

    def restart(self) -> None:
        """Restart as after a crash: `immediate` drops every connection without a checkpoint,
        so the server runs recovery on start."""
        self._pg_ctl("-w", "-m", "immediate", "stop")
        self.start()

    def stop(self) -> None:
        """Stop the server (fast: connections are closed) and delete its folder."""
        try:
            self._pg_ctl("-w", "-m", "fast", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    async def create_database(self) -> str:
        """Create an empty database; return its SQLAlchemy async URL."""
        name = f"chaos_{uuid.uuid4().hex[:10]}"
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"


def create_cluster() -> ChaosCluster:
    """initdb a new cluster in a fresh folder under the system temp dir and start it.

    Not under pytest's tmp_path: pytest keeps that tree private to root (0700), and the
    server runs as postgres."""
    bin_dir = _bin_dir()
    assert bin_dir is not None
    folder = Path(tempfile.mkdtemp(prefix="crm-chaos-pg-"))
    shutil.chown(folder, "postgres", "postgres")
    done = subprocess.run(
        ["runuser", "-u", "postgres", "--", str(bin_dir / "initdb"), "-D", str(folder / "data"),
         "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-instructions"],
        capture_output=True, timeout=120, check=False, cwd=folder,
    )
    if done.returncode != 0:
        raise RuntimeError(f"initdb failed: {done.stderr.decode(errors='replace')[-2000:]}")
    cluster = ChaosCluster(folder, free_port())
    cluster.start()
    return cluster
