"""Generate Python code from protos/ into gen/python: the only codegen entry point.

Also copies the Google API protos we import (from googleapis-common-protos) into
gen/third_party so that `buf lint` can resolve imports without network access.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT = ROOT / "gen" / "python"
THIRD_PARTY = ROOT / "gen" / "third_party"
STAMP = OUT / ".stamp"


def _googleapis_root() -> Path:
    """Return the folder that holds google/api/*.proto from googleapis-common-protos."""
    from google.api import field_behavior_pb2

    return Path(field_behavior_pb2.__file__).resolve().parent.parent.parent


def _fingerprint(sources: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sources:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    import grpc_tools

    digest.update(getattr(grpc_tools, "__version__", "").encode())
    return digest.hexdigest()


def _copy_third_party(google_root: Path) -> None:
    """Copy the google/api, google/type and google/rpc protos buf needs to resolve imports."""
    for sub in ("google/api", "google/type", "google/rpc"):
        target = THIRD_PARTY / sub
        target.mkdir(parents=True, exist_ok=True)
        for proto in (google_root / sub).glob("*.proto"):
            shutil.copy2(proto, target / proto.name)


def generate(*, force: bool = False) -> bool:
    """Generate stubs when protos changed since the last run; return True if it ran protoc."""
    from grpc_tools import protoc

    sources = sorted(PROTOS.rglob("*.proto"))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fingerprint = _fingerprint(sources)
    if not force and STAMP.exists() and STAMP.read_text() == fingerprint:
        return False
    # Generate into a fresh folder and swap it in, so that a concurrent reader (another test
    # run) never sees a half-written tree.
    staging = Path(tempfile.mkdtemp(prefix=".gen-", dir=OUT.parent))
    google_root = _googleapis_root()
    well_known = Path(protoc.__file__).resolve().parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTOS}",
        f"-I{google_root}",
        f"-I{well_known}",
        f"--python_out={staging}",
        f"--pyi_out={staging}",
        f"--grpc_python_out={staging}",
        *[str(p.relative_to(PROTOS)) for p in sources],
    ]
    if protoc.main(args) != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise SystemExit("protoc failed")
    (staging / ".stamp").write_text(fingerprint)
    old = OUT.with_name(f".old-{os.getpid()}")
    if OUT.exists():
        OUT.rename(old)
    staging.rename(OUT)
    shutil.rmtree(old, ignore_errors=True)
    _copy_third_party(google_root)
    return True


if __name__ == "__main__":
    ran = generate(force="--force" in sys.argv)
    print("generated" if ran else "up to date", OUT.relative_to(ROOT))
