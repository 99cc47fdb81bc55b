"""kustomize-lite generators: configMapGenerator and secretGenerator with hashed names.

Generated objects keep their plain name while the build runs (so overlays can merge into
them) and carry an internal annotation; at the end `finalize_generated_names` appends the
content hash, base64-encodes Secret data and rewrites references in pod specs (envFrom,
env valueFrom, configMap/secret/projected volumes, imagePullSecrets).
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from kustomize_objects import Manifest, containers_of, pod_spec_of

# Marks generated objects until the end of the build: "hash" or "no-hash".
_GENERATED = "kustomize-lite.internal/generated"


class KustomizeError(ValueError):
    """A kustomization this loader cannot render (or kustomize itself would reject)."""


def generate(
    manifests: list[Manifest],
    kind: str,
    generator: dict[str, Any],
    directory: Path,
    *,
    hash_by_default: bool,
) -> None:
    """Add (create) or update (merge, replace) a generated ConfigMap or Secret."""
    name = generator["name"]
    data = _generator_data(generator, directory)
    behavior = generator.get("behavior", "create")
    existing = next((m for m in manifests if _is(m, kind, name)), None)
    if behavior == "create":
        if existing is not None:
            raise KustomizeError(f"{kind} {name} already exists; use behavior merge or replace")
        options = generator.get("options") or {}
        manifest: Manifest = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}}
        if options.get("labels"):
            manifest["metadata"]["labels"] = dict(options["labels"])
        with_hash = not options.get("disableNameSuffixHash", not hash_by_default)
        manifest["metadata"]["annotations"] = {_GENERATED: "hash" if with_hash else "no-hash"}
        if kind == "Secret":
            manifest["type"] = generator.get("type", "Opaque")
        manifest["data"] = data
        manifests.append(manifest)
    elif behavior in ("merge", "replace"):
        if existing is None:
            raise KustomizeError(f"{kind} {name}: behavior {behavior} but no such generator")
        existing["data"] = {**existing["data"], **data} if behavior == "merge" else data
    else:
        raise KustomizeError(f"{kind} {name}: unknown behavior {behavior!r}")


def _generator_data(generator: dict[str, Any], directory: Path) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for literal in generator.get("literals") or []:
        key, separator, value = str(literal).partition("=")
        if not separator:
            raise KustomizeError(f"literal {literal!r} is not KEY=VALUE")
        pairs[key] = value
    for env_file in generator.get("envs") or []:
        for line in (directory / env_file).read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                key, _, value = line.partition("=")
                pairs[key.strip()] = value
    for entry in generator.get("files") or []:
        key, separator, file_name = str(entry).partition("=")
        path = directory / (file_name if separator else key)
        pairs[key if separator else path.name] = path.read_text(encoding="utf-8")
    return pairs


def finalize_generated_names(manifests: list[Manifest]) -> list[Manifest]:
    """Hash-suffix generated names, base64 Secret data, and rewrite pod references."""
    renamed: dict[tuple[str, str], str] = {}
    for manifest in manifests:
        annotations = manifest["metadata"].get("annotations") or {}
        generated = annotations.pop(_GENERATED, None)
        if generated is None:
            continue
        if not annotations:
            del manifest["metadata"]["annotations"]
        if manifest["kind"] == "Secret":
            manifest["data"] = {
                key: base64.b64encode(value.encode()).decode()
                for key, value in manifest["data"].items()
            }
        if generated != "hash":
            continue
        old_name = manifest["metadata"]["name"]
        new_name = f"{old_name}-{_content_hash(manifest)}"
        manifest["metadata"]["name"] = new_name
        renamed[(manifest["kind"], old_name)] = new_name
    for manifest in manifests:
        pod_spec = pod_spec_of(manifest)
        if pod_spec is not None:
            _rewrite_references(pod_spec, renamed)
    return manifests


def _content_hash(manifest: Manifest) -> str:
    # kustomize hashes {kind, name, data[, type]} as compact JSON with sorted keys, then keeps
    # 10 hex digits with some digits swapped for letters so the suffix is never all-numeric.
    encoded: dict[str, Any] = {
        "kind": manifest["kind"],
        "name": manifest["metadata"]["name"],
        "data": manifest["data"],
    }
    if manifest["kind"] == "Secret":
        encoded["type"] = manifest.get("type", "Opaque")
    digest = hashlib.sha256(
        json.dumps(encoded, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    return digest[:10].translate(str.maketrans("013ae", "ghkmt"))


def _rewrite_references(pod_spec: dict[str, Any], renamed: dict[tuple[str, str], str]) -> None:
    def swap(holder: dict[str, Any] | None, kind: str, field: str = "name") -> None:
        if holder and (kind, holder.get(field)) in renamed:
            holder[field] = renamed[(kind, holder[field])]

    for container in containers_of(pod_spec):
        for source in container.get("envFrom") or []:
            swap(source.get("configMapRef"), "ConfigMap")
            swap(source.get("secretRef"), "Secret")
        for variable in container.get("env") or []:
            value_from = variable.get("valueFrom") or {}
            swap(value_from.get("configMapKeyRef"), "ConfigMap")
            swap(value_from.get("secretKeyRef"), "Secret")
    for volume in pod_spec.get("volumes") or []:
        swap(volume.get("configMap"), "ConfigMap")
        swap(volume.get("secret"), "Secret", field="secretName")
        for source in (volume.get("projected") or {}).get("sources") or []:
            swap(source.get("configMap"), "ConfigMap")
            swap(source.get("secret"), "Secret")
    for pull_secret in pod_spec.get("imagePullSecrets") or []:
        swap(pull_secret, "Secret")


def _is(manifest: Manifest, kind: str, name: str) -> bool:
    return manifest.get("kind") == kind and manifest.get("metadata", {}).get("name") == name
