"""The crm-contracts wheel: what it holds, and a call made with nothing but the wheel.

The default suite checks the contents and makes a call with the wheel unpacked on an
interpreter that does not see the repository; `./run.sh contracts` (marker "contracts")
pip-installs the wheel in a fresh virtual environment and makes the call from there.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from client_harness import client_service
from google.protobuf import descriptor_pb2

from tools.build_contracts import build, write_descriptor_set

ROOT = Path(__file__).resolve().parents[2]
CALLER = Path(__file__).with_name("contract_caller.py")
# The caller's environment gets the same pins as the platform's runtime lock.
_PINNED = ("grpcio", "protobuf", "googleapis-common-protos")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, packed by the package's own backend (what pip calls; `./run.sh contracts`
    and the marked test below go through pip itself)."""
    sys.path.insert(0, str(ROOT / "contracts"))
    import contracts_backend

    write_descriptor_set()
    folder = tmp_path_factory.mktemp("dist")
    return folder / contracts_backend.build_wheel(str(folder))


@pytest.fixture
def pip_built_wheel(tmp_path: Path) -> Path:
    """The wheel as `./run.sh contracts` builds it: `pip wheel contracts/`."""
    return build(tmp_path / "dist")


def _pins() -> list[str]:
    text = (ROOT / "requirements.lock").read_text()
    return [re.search(rf"^({name}==[^ \\\n]+)", text, re.M).group(1) for name in _PINNED]  # type: ignore[union-attr]


async def _call(python: list[str], address: str, metadata: object, env: dict[str, str]) -> dict:
    process = await asyncio.create_subprocess_exec(
        *python,
        str(CALLER),
        address,
        env={**env, "CRM_CALLER_METADATA": json.dumps(metadata)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    return json.loads(out)


def _check_answer(answer: dict, home: Path) -> None:
    assert all(Path(p).is_relative_to(home) for p in answer["crm_paths"]), answer
    assert Path(answer["contracts_file"]).is_relative_to(home)
    assert answer["created"].startswith("clients/") and answer["read"] == answer["created"]
    assert answer["credit_code"] == "91110108MA01B2C344"
    assert answer["descriptor_set_bytes"] > 10_000
    assert answer["classes"] == {"GetClient": "read", "CreateClient": "idempotent_write"}


def test_wheel_holds_stubs_protos_and_descriptor_set(wheel: Path) -> None:
    """Stubs, type stubs and protos of every service; a descriptor set with the imports; no
    google/ files (googleapis-common-protos owns them); dependency floors from the stubs."""
    assert wheel.name == "crm_contracts-1.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read("crm_contracts-1.0.0.dist-info/METADATA").decode()
        descriptor_set = archive.read("crm_contracts/descriptor_set.binpb")
    for service in ("client", "risk", "notify", "feedback", "gateway"):
        stem = f"crm/{service}/v1/{service}_service"
        assert {
            f"{stem}_pb2.py",
            f"{stem}_pb2.pyi",
            f"{stem}_pb2_grpc.py",
            f"{stem}.proto",
            f"crm/{service}/py.typed",
        } <= names
    assert not any(name.startswith("google/") for name in names)
    files = {f.name for f in descriptor_pb2.FileDescriptorSet.FromString(descriptor_set).file}
    protos = {p.relative_to(ROOT / "protos").as_posix() for p in ROOT.glob("protos/**/*.proto")}
    assert protos <= files and "google/api/http.proto" in files
    assert "Requires-Dist: googleapis-common-protos>=1.63" in metadata
    assert re.search(r"Requires-Dist: protobuf>=\d+\.\d+\.\d+,<\d+", metadata)


async def test_unpacked_wheel_alone_creates_and_reads_a_client(
    wheel: Path, tmp_path: Path, sqlite_url: str, identity
) -> None:
    """The wheel unpacked beside the dependencies only (no site hooks, so none of the
    repository's paths): CreateClient then GetClient against a running client service."""
    home = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(home)
    dependencies = next(p for p in sys.path if p.endswith("site-packages"))
    env = {"PYTHONPATH": f"{home}:{dependencies}"}
    async with client_service(sqlite_url, identity) as h:
        answer = await _call([sys.executable, "-S", "-P"], h.running.address, h.rm(), env)
    _check_answer(answer, home)


@pytest.fixture
def caller_venv(pip_built_wheel: Path, tmp_path: Path) -> Path:
    """A fresh venv with the wheel pip-installed (dependencies at the runtime lock's pins)."""
    venv = tmp_path / "caller-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "install", "-q", *_pins(), str(pip_built_wheel)],
        check=True,
        timeout=600,
    )
    return venv


@pytest.mark.contracts
async def test_pip_installed_wheel_in_a_clean_venv_makes_a_call(
    caller_venv: Path, sqlite_url: str, identity
) -> None:
    """`python -m venv`, `pip install` the wheel, then CreateClient and GetClient from that
    venv's python."""
    python = str(caller_venv / "bin" / "python")
    async with client_service(sqlite_url, identity) as h:
        answer = await _call([python, "-P"], h.running.address, h.rm(), {})
    _check_answer(answer, caller_venv)


def test_docs_show_the_policies_the_wheel_applies() -> None:
    """docs/CONTRACTS.md's policy block is the module's POLICIES, value for value."""
    sys.path.insert(0, str(ROOT / "contracts"))
    from crm_contracts.service_config import POLICIES

    text = (ROOT / "docs" / "CONTRACTS.md").read_text()
    block = text.split("<!-- policies -->\n```json\n", 1)[1].split("```", 1)[0]
    assert json.loads(block) == POLICIES
