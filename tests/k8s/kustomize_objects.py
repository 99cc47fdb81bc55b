"""Shapes shared by kustomize-lite and the checks: manifests, pod specs, containers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# One Kubernetes object as parsed from YAML.
Manifest = dict[str, Any]


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
