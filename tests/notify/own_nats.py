"""A nats-server of the test's own on a free port in a temp dir (never the shared one)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from crm_runtime.testing import free_port


def _start(binary: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([binary, "-a", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, cwd=log.parent)


@asynccontextmanager
async def own_nats_server(directory: Path) -> AsyncIterator[str]:
    """Run nats-server (core pub/sub only) on 127.0.0.1; yield its URL."""
    binary = shutil.which("nats-server")
    if binary is None:
        pytest.skip("nats-server is not installed (./run.sh setup installs it)")
    port = free_port()
    log = directory / "nats.log"
    proc = _start(binary, port, log)
    try:
        for _ in range(200):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"nats-server exited: {log.read_text()}") from None
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            break
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
