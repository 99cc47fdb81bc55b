"""A redis-server of the test's own, on a free port in a temporary directory.

Tests that stop Redis or count keys must not share the machine's Redis (other tests and other
people use it), so each starts its own and can stop and restart it on the same port.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

from crm_runtime.testing import free_port


class RedisServer:
    """`redis-server` bound to 127.0.0.1 on a free port, persisting nothing."""

    def __init__(self, directory: Path) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError("redis-server is not installed (./run.sh setup installs it)")
        self.executable = executable
        self.directory = directory
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the redis:// URL of this server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers PING."""
        self.directory.mkdir(parents=True, exist_ok=True)
        log = (self.directory / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            [
                self.executable,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError((self.directory / "redis.log").read_text()[-2000:])
                try:
                    if client.ping():
                        return
                except redis.exceptions.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        """Stop the server (SIGKILL: no shutdown courtesy, as when a node dies)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def client(self) -> redis.Redis:
        """Return a synchronous client, for the test's own look at the keys."""
        return redis.Redis(port=self.port, decode_responses=True)
