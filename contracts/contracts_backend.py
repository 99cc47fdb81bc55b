"""PEP 517 backend of crm-contracts: packs generated stubs, protos and the descriptor set.

It writes the wheel itself (a zip with METADATA, WHEEL and RECORD, PEP 427) so that building
needs nothing beyond the standard library. Its inputs come from the repository around it:
gen/python/crm (stubs), protos/crm (sources), gen/contracts/descriptor_set.binpb (written by
tools/build_contracts.py) and contracts/crm_contracts (the package's own modules).
"""

from __future__ import annotations

import base64
import hashlib
import re
import tomllib
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
STUBS = ROOT / "gen" / "python"
PROTOS = ROOT / "protos"
DESCRIPTOR_SET = ROOT / "gen" / "contracts" / "descriptor_set.binpb"
# Fixed timestamp: the same inputs give the same wheel bytes.
_EPOCH = (2020, 1, 1, 0, 0, 0)
_GENERATED_FILE = re.compile(r".*(_pb2\.py|_pb2_grpc\.py|_pb2\.pyi)$")


def _project() -> dict[str, object]:
    with (HERE / "pyproject.toml").open("rb") as handle:
        return dict(tomllib.load(handle)["project"])


def _generated_versions() -> tuple[str, str]:
    """Return (protobuf, grpcio) versions the generated code requires at run time."""
    protobuf = grpc = None
    for path in sorted(STUBS.rglob("*_pb2*.py")):
        text = path.read_text()
        protobuf = protobuf or _search(r"# Protobuf Python Version: ([0-9.]+)", text)
        grpc = grpc or _search(r"GRPC_GENERATED_VERSION = '([0-9.]+)'", text)
    if not (protobuf and grpc):
        raise RuntimeError(f"no generated stubs under {STUBS}: run ./run.sh contracts")
    return protobuf, grpc


def _search(pattern: str, text: str) -> str | None:
    match = re.search(pattern, text)
    return match.group(1) if match else None


def _dependencies() -> list[str]:
    protobuf, grpc = _generated_versions()
    major = int(protobuf.split(".")[0])
    return [
        f"protobuf>={protobuf},<{major + 1}",
        f"grpcio>={grpc}",
        "googleapis-common-protos>=1.63",
    ]


def _contents() -> dict[str, bytes]:
    """Return the wheel's files (archive path → bytes), the dist-info aside."""
    if not DESCRIPTOR_SET.exists():
        raise RuntimeError(f"{DESCRIPTOR_SET} is missing: run ./run.sh contracts")
    files: dict[str, bytes] = {}
    for path in sorted((HERE / "crm_contracts").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            files[path.relative_to(HERE).as_posix()] = path.read_bytes()
    files["crm_contracts/descriptor_set.binpb"] = DESCRIPTOR_SET.read_bytes()
    for path in sorted((STUBS / "crm").rglob("*")):
        if _GENERATED_FILE.match(path.name):
            files[path.relative_to(STUBS).as_posix()] = path.read_bytes()
    for path in sorted((PROTOS / "crm").rglob("*.proto")):
        files[path.relative_to(PROTOS).as_posix()] = path.read_bytes()
    # `crm` is a namespace package: PEP 561 wants the marker in each package below it, so
    # type checkers read the .pyi stubs of an installed wheel.
    for service in sorted(p for p in (STUBS / "crm").iterdir() if p.is_dir()):
        files[f"crm/{service.name}/py.typed"] = b""
    return files


def _metadata(project: dict[str, object]) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project['description']}",
        f"Requires-Python: {project['requires-python']}",
        *(f"Requires-Dist: {dependency}" for dependency in _dependencies()),
    ]
    return "\n".join(lines) + "\n"


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def build_wheel(
    wheel_directory: str,
    config_settings: dict[str, object] | None = None,
    metadata_directory: str | None = None,
) -> str:
    """Write the wheel into `wheel_directory`; return its file name (PEP 517)."""
    project = _project()
    distribution = str(project["name"]).replace("-", "_")
    version = str(project["version"])
    dist_info = f"{distribution}-{version}.dist-info"
    files = _contents()
    files[f"{dist_info}/METADATA"] = _metadata(project).encode()
    files[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: crm-contracts-backend\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n"
    )
    record = [f"{name},{_record_hash(data)},{len(data)}" for name, data in files.items()]
    files[f"{dist_info}/RECORD"] = ("\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n").encode()
    name = f"{distribution}-{version}-py3-none-any.whl"
    target = Path(wheel_directory) / name
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        for archive_name, data in files.items():
            info = zipfile.ZipInfo(archive_name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(info, data)
    return name


def get_requires_for_build_wheel(config_settings: dict[str, object] | None = None) -> list[str]:
    """Nothing to install before building (PEP 517)."""
    return []
