"""Build the crm-contracts wheel into dist/ (docs/CONTRACTS.md): `./run.sh contracts`.

Regenerates the stubs when the protos changed, writes the descriptor set (every contract file
with its imports and comments), then has pip build contracts/ with its in-tree backend.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools.gen_protos import PROTOS, _googleapis_root, generate  # noqa: E402

DESCRIPTOR_SET = ROOT / "gen" / "contracts" / "descriptor_set.binpb"
DIST = ROOT / "dist"


def write_descriptor_set() -> Path:
    """Write the FileDescriptorSet of protos/ (imports and source comments included)."""
    from grpc_tools import protoc

    DESCRIPTOR_SET.parent.mkdir(parents=True, exist_ok=True)
    well_known = Path(protoc.__file__).resolve().parent / "_proto"
    sources = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    args = [
        "grpc_tools.protoc",
        f"-I{PROTOS}",
        f"-I{_googleapis_root()}",
        f"-I{well_known}",
        f"--descriptor_set_out={DESCRIPTOR_SET}",
        "--include_imports",
        "--include_source_info",
        *sources,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed writing the descriptor set")
    return DESCRIPTOR_SET


def build(dist: Path = DIST) -> Path:
    """Build the wheel into `dist`; return its path."""
    generate()
    write_descriptor_set()
    dist.mkdir(parents=True, exist_ok=True)
    # No build isolation: the backend needs nothing but the standard library, and an
    # isolated build would try to reach an index.
    subprocess.run(  # noqa: S603 - our own interpreter and paths
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dist),
            str(ROOT / "contracts"),
        ],
        check=True,
    )
    wheels = sorted(dist.glob("crm_contracts-*-py3-none-any.whl"), key=lambda p: p.stat().st_mtime)
    return wheels[-1]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DIST
    print(build(target).relative_to(ROOT) if target == DIST else build(target))
