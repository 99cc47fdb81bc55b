"""Per-call cost of GetClient, on the client service and through the gateway, by stage.

Two load-independent views of the same calls (`./run.sh bench callcost`):

- **Instructions per call** (valgrind callgrind): each process runs under callgrind with
  instrumentation off; it is switched on (`callgrind_control -i on`) only while the
  benchmark drives `CALLS` GetClient calls, so startup, seeding and warm-up are left out.
  Instruction counts do not depend on what else the machine runs.
- **Stages** (cProfile timed by process CPU time, `bench.profiled`): each function's own
  time goes to one stage (`bench.stages`); the shares say where a call's Python time goes.
  cProfile's own overhead inflates Python-heavy stages, so the shares are relative, the
  callgrind figure is the absolute one.

The client service keeps its defaults (row cache on SQLite, INFO log line per call); the
gateway forwards to it. Load comes from a grpc.aio client in this process.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc

from bench.gateway_bench import AUDIENCE, ISSUER, _seed_client, _sso
from bench.stages import stage_table
from bench.tools import ROOT, wait_ready
from crm.client.v1 import client_service_pb2, client_service_pb2_grpc
from crm_runtime.auth import IDENTITY_METADATA_KEY, Role
from crm_runtime.testing import IdentityKit, free_port, pii_env

CALLS = 2000
CALLGRIND_CALLS = 500  # instructions per call settle well before; callgrind runs ~50x slower
WARM_UP = 300
IN_FLIGHT = 8
Sender = Callable[[], Awaitable[Any]]


def _launch(prefix: list[str], module: str, env: dict[str, str], log: Path) -> subprocess.Popen[
        bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([*prefix, sys.executable, "-m", *module.split()],
                                env={**os.environ, **env}, stdout=out,
                                stderr=subprocess.STDOUT, cwd=ROOT)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _drive(send: Sender, calls: int) -> None:
    """Make `calls` calls, IN_FLIGHT at a time; any failure stops the benchmark."""
    remaining = iter(range(calls))

    async def worker() -> None:
        for _ in remaining:
            await send()

    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))


class _Pair:
    """A client service and a gateway in front of it, started with a launcher prefix."""

    def __init__(self, tmp: Path, tag: str, wrap: Callable[[str], tuple[list[str], str]]):
        self.kit = IdentityKit.create(tmp / f"identity-{tag}")
        jwks, self.bearer = _sso(tmp)
        self.client_port, self.gateway_port = free_port(), free_port()
        self.tmp, self.tag = tmp, tag
        prefix, module = wrap("crm_client")
        self.client = _launch(prefix, module, {
            **pii_env(), **self.kit.env("client"), "GRPC_PORT": str(self.client_port),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/client-{tag}.db", "LOG_LEVEL": "info",
            "PROFILE_OUT": str(tmp / f"client-{tag}.prof")}, tmp / f"client-{tag}.log")
        prefix, module = wrap("crm_gateway")
        self.gateway = _launch(prefix, module, {
            **self.kit.env("gateway"), "GRPC_PORT": str(self.gateway_port),
            "HTTP_PORT": str(free_port()),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/gateway-{tag}.db",
            "CLIENT_ADDR": f"127.0.0.1:{self.client_port}", "JWKS_FILE": str(jwks),
            "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE,
            "RATE_LIMIT_PER_SECOND": "1000000", "RATE_LIMIT_BURST": "1000000",
            "LOG_LEVEL": "info", "PROFILE_OUT": str(tmp / f"gateway-{tag}.prof")},
            tmp / f"gateway-{tag}.log")

    async def ready(self) -> tuple[Sender, Sender]:
        """Wait for both, create one client; return senders of GetClient direct and via
        the gateway."""
        await wait_ready(f"127.0.0.1:{self.client_port}", "crm.client.v1.ClientService",
                         timeout=600)
        await wait_ready(f"127.0.0.1:{self.gateway_port}", "crm.gateway.v1.GatewayService",
                         timeout=600)
        bearer = (("authorization", f"Bearer {self.bearer}"),)
        self._channels = [grpc.aio.insecure_channel(f"127.0.0.1:{port}")
                          for port in (self.client_port, self.gateway_port)]
        direct, via = (client_service_pb2_grpc.ClientServiceStub(c) for c in self._channels)
        created = await via.CreateClient(client_service_pb2.CreateClientRequest(
            client=_seed_client(), request_id=str(uuid.uuid4())), metadata=bearer, timeout=120)
        request = client_service_pb2.GetClientRequest(name=created.name)
        # One token for the whole run (under callgrind it outlasts the default 5 minutes).
        internal = ((IDENTITY_METADATA_KEY, self.kit.signers["gateway"].mint(
            "staff/rm-bench", [Role.RELATIONSHIP_MANAGER], ttl_seconds=7200)),)
        return (lambda: direct.GetClient(request, metadata=internal, timeout=60),
                lambda: via.GetClient(request, metadata=bearer, timeout=60))

    async def stop(self) -> None:
        """Close the channels, stop both processes (callgrind writes its file on exit)."""
        for channel in getattr(self, "_channels", []):
            await channel.close()
        for proc in (self.gateway, self.client):
            proc.terminate()
            proc.wait(300)


async def _profiles(tmp: Path) -> dict[str, Any]:
    pair = _Pair(tmp, "prof", lambda module: ([], f"bench.profiled {module}"))
    out: dict[str, Any] = {}
    try:
        senders = dict(zip(("client", "gateway"), await pair.ready(), strict=True))
        for name, proc in (("client", pair.client), ("gateway", pair.gateway)):
            await _drive(senders[name], WARM_UP)
            started = _cpu_seconds(proc.pid)
            proc.send_signal(signal.SIGUSR1)
            await _drive(senders[name], CALLS)
            proc.send_signal(signal.SIGUSR2)
            cpu = _cpu_seconds(proc.pid) - started
            profile = tmp / f"{name}-prof.prof"
            for _ in range(600):
                if profile.exists():
                    break
                await asyncio.sleep(0.1)
            out[name] = {"profiled_cpu_us_per_call": round(cpu / CALLS * 1e6, 1),
                         "stages": stage_table(profile, CALLS)}
    finally:
        await pair.stop()
    return out


async def _instructions(tmp: Path) -> dict[str, Any]:
    """Instructions per GetClient call in each process, from callgrind's totals."""
    outs = {name: tmp / f"{name}.callgrind" for name in ("crm_client", "crm_gateway")}

    def wrap(module: str) -> tuple[list[str], str]:
        return (["valgrind", "--tool=callgrind", "--instr-atstart=no",
                 f"--callgrind-out-file={outs[module]}"], module)

    pair = _Pair(tmp, "cg", wrap)
    try:
        direct, via = await pair.ready()
        for send, proc in ((direct, pair.client), (via, pair.gateway)):
            await _drive(send, WARM_UP // 3)
            await _callgrind_control("on", proc.pid)
            await _drive(send, CALLGRIND_CALLS)
            await _callgrind_control("off", proc.pid)
    finally:
        await pair.stop()
    return {name.removeprefix("crm_"): round(_total_ir(path) / CALLGRIND_CALLS)
            for name, path in outs.items()}


async def _callgrind_control(state: str, pid: int) -> None:
    control = await asyncio.create_subprocess_exec(
        "callgrind_control", "-i", state, str(pid),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await control.communicate()
    if control.returncode:
        raise RuntimeError(f"callgrind_control -i {state} {pid}: {output.decode()}")


def _total_ir(path: Path) -> int:
    """Return the instructions counted while instrumentation was on (the file's totals line;
    its summary line stays 0 when instrumentation starts off)."""
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


async def run() -> dict[str, Any]:
    """Profile both processes, then count their instructions per call."""
    tmp = Path(tempfile.mkdtemp(prefix="crm-callcost-"))
    try:
        started = time.perf_counter()
        results: dict[str, Any] = {"calls": CALLS, "profiles": await _profiles(tmp)}
        print(f"  profiles taken in {time.perf_counter() - started:.0f} s", flush=True)
        if shutil.which("valgrind"):
            results["instructions_per_call"] = await _instructions(tmp)
        results["load_average"] = os.getloadavg()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def write_results(results: dict[str, Any]) -> Path:
    """Write bench/results/callcost.json and callcost.md (the stage tables)."""
    folder = ROOT / "bench" / "results"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "callcost.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = []
    ir = results.get("instructions_per_call", {})
    for name, title in (("client", "client service, GetClient"),
                        ("gateway", "gateway, GetClient passed through")):
        profile = results["profiles"][name]
        lines += [f"### {title}", "",
                  f"Instructions per call (callgrind): **{ir.get(name, 'not measured')}**; "
                  f"CPU µs per call under cProfile: {profile['profiled_cpu_us_per_call']}", "",
                  "| stage | share | µs per call (profiled) |", "|---|---|---|"]
        lines += [f"| {s['stage']} | {s['share']:.1%} | {s['us_per_call']} |"
                  for s in profile["stages"]]
        lines.append("")
    lines.append(f"{results['calls']} calls per process under cProfile, {CALLGRIND_CALLS} under "
                 f"callgrind; load average "
                 f"{results['load_average']} (instruction counts do not depend on it).")
    path = folder / "callcost.md"
    path.write_text("\n".join(lines) + "\n")
    return path


if __name__ == "__main__":
    print(write_results(asyncio.run(run())).read_text())
