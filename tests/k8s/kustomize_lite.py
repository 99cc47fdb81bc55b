"""Render a kustomization directory the way `kustomize build` does, for what this repo uses.

CI has no kustomize binary, so the manifest tests render overlays with this small loader.
It follows kustomize's order inside each kustomization: resources (files, or directories
built recursively), then components (which see and transform everything accumulated so
far), then generators, then transformers (patches, namespace, labels, replicas, images).
Generated ConfigMaps and Secrets get a content-hash name suffix at the end of the build, and
references to them in pod specs are rewritten, so a config change rolls the pods.

Supported fields: resources, components, namespace, labels (pairs, includeSelectors,
includeTemplates), images (newName, newTag, digest), replicas, patches (path or inline;
strategic merge or JSON6902; target by kind, name and labelSelector of the form k=v[,k=v]),
configMapGenerator and secretGenerator (literals, files, envs; behavior create, merge,
replace; options.disableNameSuffixHash), generatorOptions.disableNameSuffixHash.

Limits (kustomize features it does not have): remote resources, helmCharts, vars and
replacements, namePrefix/nameSuffix, commonLabels/commonAnnotations, legacy
patchesStrategicMerge/patchesJson6902 fields, openapi schemas for custom merge keys,
regex targets, and name references outside pod specs. The hash suffix uses kustomize's
recipe but is not guaranteed to equal its value byte for byte. Unknown fields raise
`KustomizeError`, so a kustomization that needs more fails loudly instead of rendering wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from kustomize_generators import KustomizeError, finalize_generated_names, generate
from kustomize_objects import Manifest, containers_of, pod_spec_of
from kustomize_patches import apply_json6902, strategic_merge

__all__ = [
    "KustomizeError", "Manifest", "containers_of", "load_documents", "pod_spec_of", "render",
    "split_image", "to_yaml",
]

_SUPPORTED_FIELDS = frozenset({
    "apiVersion", "kind", "resources", "components", "namespace", "labels", "images",
    "replicas", "patches", "configMapGenerator", "secretGenerator", "generatorOptions",
})
_CLUSTER_SCOPED_KINDS = frozenset({
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
    "PersistentVolume", "StorageClass", "PriorityClass", "ClusterSecretStore",
})


def load_documents(path: Path) -> list[Manifest]:
    """Return the non-empty YAML documents of one manifest file."""
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc]


def render(directory: Path) -> list[Manifest]:
    """Build the kustomization in `directory` and return its objects in output order."""
    manifests = _build(directory, accumulated=[], as_component=False)
    return finalize_generated_names(manifests)


def to_yaml(manifests: list[Manifest]) -> str:
    """Serialise manifests as one multi-document YAML stream, like `kustomize build`."""
    return yaml.safe_dump_all(manifests, sort_keys=False)


def _build(directory: Path, accumulated: list[Manifest], *, as_component: bool) -> list[Manifest]:
    kustomization = _read_kustomization(directory)
    expected_kind = "Component" if as_component else "Kustomization"
    if kustomization.get("kind", "Kustomization") != expected_kind:
        raise KustomizeError(f"{directory}: expected kind {expected_kind}")
    manifests = accumulated
    for entry in kustomization.get("resources") or []:
        path = directory / entry
        if path.is_dir():
            manifests.extend(_build(path, accumulated=[], as_component=False))
        elif path.is_file():
            manifests.extend(load_documents(path))
        else:
            raise KustomizeError(f"{directory}: resource {entry!r} not found")
    for entry in kustomization.get("components") or []:
        manifests = _build(directory / entry, accumulated=manifests, as_component=True)
    hash_by_default = not (kustomization.get("generatorOptions") or {}).get(
        "disableNameSuffixHash", False
    )
    for kind, field in (("ConfigMap", "configMapGenerator"), ("Secret", "secretGenerator")):
        for generator in kustomization.get(field) or []:
            generate(manifests, kind, generator, directory, hash_by_default=hash_by_default)
    for patch in kustomization.get("patches") or []:
        _apply_patch(manifests, patch, directory)
    if "namespace" in kustomization:
        _set_namespace(manifests, kustomization["namespace"])
    for label_set in kustomization.get("labels") or []:
        _add_labels(manifests, label_set)
    for replica in kustomization.get("replicas") or []:
        _set_replicas(manifests, replica)
    for image in kustomization.get("images") or []:
        _set_image(manifests, image)
    return manifests


def _read_kustomization(directory: Path) -> dict[str, Any]:
    path = directory / "kustomization.yaml"
    if not path.is_file():
        raise KustomizeError(f"{directory} has no kustomization.yaml")
    documents = load_documents(path)
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise KustomizeError(f"{path} must hold exactly one mapping")
    unknown = set(documents[0]) - _SUPPORTED_FIELDS
    if unknown:
        raise KustomizeError(f"{path}: fields not supported by kustomize-lite: {sorted(unknown)}")
    return documents[0]


def _is(manifest: Manifest, kind: str, name: str) -> bool:
    return manifest.get("kind") == kind and manifest.get("metadata", {}).get("name") == name


def _apply_patch(manifests: list[Manifest], patch: dict[str, Any], directory: Path) -> None:
    if "path" in patch:
        documents = load_documents(directory / patch["path"])
        if len(documents) != 1:
            raise KustomizeError(f"patch file {patch['path']} must hold one document")
        body: Any = documents[0]
    else:
        body = yaml.safe_load(patch["patch"])
    target = patch.get("target")
    if isinstance(body, list):
        if target is None:
            raise KustomizeError("a JSON6902 patch needs a target")
        matches = [i for i, m in enumerate(manifests) if _matches_target(m, target)]
        for index in matches:
            manifests[index] = apply_json6902(manifests[index], body)
    else:
        selector = target or {"kind": body["kind"], "name": body["metadata"]["name"]}
        matches = [i for i, m in enumerate(manifests) if _matches_target(m, selector)]
        for index in matches:
            manifests[index] = strategic_merge(manifests[index], body)
    if not matches:
        raise KustomizeError(f"patch {patch} matched no object")


def _matches_target(manifest: Manifest, target: dict[str, Any]) -> bool:
    metadata = manifest.get("metadata", {})
    if "kind" in target and manifest.get("kind") != target["kind"]:
        return False
    if "name" in target and metadata.get("name") != target["name"]:
        return False
    labels = metadata.get("labels") or {}
    for requirement in filter(None, str(target.get("labelSelector", "")).split(",")):
        key, _, value = requirement.partition("=")
        if labels.get(key.strip()) != value.strip():
            return False
    return True


def _set_namespace(manifests: list[Manifest], namespace: str) -> None:
    for manifest in manifests:
        if manifest.get("kind") not in _CLUSTER_SCOPED_KINDS:
            manifest["metadata"]["namespace"] = namespace


def _add_labels(manifests: list[Manifest], label_set: dict[str, Any]) -> None:
    pairs = dict(label_set.get("pairs") or {})
    if label_set.get("includeSelectors"):
        raise KustomizeError("labels with includeSelectors: true are not supported (on purpose)")
    for manifest in manifests:
        manifest["metadata"].setdefault("labels", {}).update(pairs)
        if label_set.get("includeTemplates") and pod_spec_of(manifest) is not None:
            template = manifest["spec"]["template"]
            template.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)


def _set_replicas(manifests: list[Manifest], replica: dict[str, Any]) -> None:
    matched = False
    for manifest in manifests:
        is_scalable = manifest.get("kind") in ("Deployment", "StatefulSet", "ReplicaSet")
        if is_scalable and manifest["metadata"]["name"] == replica["name"]:
            manifest["spec"]["replicas"] = int(replica["count"])
            matched = True
    if not matched:
        raise KustomizeError(f"replicas: no workload named {replica['name']}")


def _set_image(manifests: list[Manifest], image: dict[str, Any]) -> None:
    for manifest in manifests:
        pod_spec = pod_spec_of(manifest)
        for container in containers_of(pod_spec) if pod_spec else ():
            name, tag, digest = split_image(container["image"])
            if name != image["name"]:
                continue
            name = image.get("newName", name)
            if "digest" in image:
                container["image"] = f"{name}@{image['digest']}"
            elif "newTag" in image:
                container["image"] = f"{name}:{image['newTag']}"
            else:
                suffix = f"@{digest}" if digest else (f":{tag}" if tag else "")
                container["image"] = f"{name}{suffix}"


def split_image(reference: str) -> tuple[str, str | None, str | None]:
    """Split an image reference into (name, tag, digest); a registry port is not a tag."""
    name, _, digest = reference.partition("@")
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > last_slash:
        name, tag = name[:colon], name[colon + 1 :]
    return name, tag, digest or None

