"""kustomize-lite renders small kustomization trees the way kustomize does.

Each test builds a throwaway tree in tmp_path, so the loader is checked on inputs whose
expected output is known, independent of the repository's manifests.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from kustomize_lite import KustomizeError, render, split_image
from kustomize_patches import PatchError, apply_json6902, strategic_merge

DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web"}},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/name": "web"}},
            "spec": {"containers": [{
                "name": "server", "image": "web",
                "ports": [{"name": "grpc", "containerPort": 50051}],
                "envFrom": [{"configMapRef": {"name": "web-config"}}],
                "env": [{"name": "A", "value": "1"}],
            }]},
        },
    },
}


def write_tree(root: Path, files: Mapping[str, object]) -> Path:
    """Write YAML (dicts or lists of documents) and text files under `root`."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(textwrap.dedent(content))
        elif isinstance(content, list):
            path.write_text(yaml.safe_dump_all(content))
        else:
            path.write_text(yaml.safe_dump(content))
    return root


def base_files(literal: str = "LEVEL=info") -> dict[str, object]:
    """Return a base with one Deployment and a generated ConfigMap."""
    return {
        "base/deployment.yaml": DEPLOYMENT,
        "base/kustomization.yaml": {
            "resources": ["deployment.yaml"],
            "configMapGenerator": [{"name": "web-config", "literals": [literal]}],
        },
    }


def one(manifests: list[dict[str, object]], kind: str) -> dict[str, object]:
    """Return the only object of `kind`."""
    found = [m for m in manifests if m["kind"] == kind]
    assert len(found) == 1
    return found[0]


class TestGenerators:
    """Generated ConfigMaps and Secrets get hashed names and their references follow."""

    def test_reference_follows_hashed_name(self, tmp_path: Path) -> None:
        """The Deployment's envFrom points at the hash-suffixed ConfigMap."""
        out = render(write_tree(tmp_path, base_files()) / "base")
        name = one(out, "ConfigMap")["metadata"]["name"]  # type: ignore[index]
        assert name.startswith("web-config-") and len(name) == len("web-config-") + 10
        container = one(out, "Deployment")["spec"]["template"]["spec"]["containers"][0]  # type: ignore[index]
        assert container["envFrom"][0]["configMapRef"]["name"] == name

    def test_hash_changes_with_content(self, tmp_path: Path) -> None:
        """Different data gives a different name, which is what rolls the pods."""
        first = render(write_tree(tmp_path / "a", base_files("LEVEL=info")) / "base")
        second = render(write_tree(tmp_path / "b", base_files("LEVEL=debug")) / "base")
        names = {one(m, "ConfigMap")["metadata"]["name"] for m in (first, second)}  # type: ignore[index]
        assert len(names) == 2

    def test_overlay_merge_behavior(self, tmp_path: Path) -> None:
        """behavior: merge adds to and overrides the base generator's data."""
        files = base_files() | {"overlay/kustomization.yaml": {
            "resources": ["../base"],
            "configMapGenerator": [{"name": "web-config", "behavior": "merge",
                                    "literals": ["LEVEL=debug", "EXTRA=1"]}],
        }}
        out = render(write_tree(tmp_path, files) / "overlay")
        assert one(out, "ConfigMap")["data"] == {"LEVEL": "debug", "EXTRA": "1"}

    def test_secret_data_is_base64(self, tmp_path: Path) -> None:
        """secretGenerator literals end up base64-encoded, like kustomize's output."""
        files = {"k/kustomization.yaml": {"secretGenerator": [
            {"name": "s", "literals": ["PASSWORD=dev"]}]}}
        secret = one(render(write_tree(tmp_path, files) / "k"), "Secret")
        assert secret["data"] == {"PASSWORD": "ZGV2"}
        assert secret["type"] == "Opaque"

    def test_duplicate_create_is_rejected(self, tmp_path: Path) -> None:
        """Generating the same name twice without merge is an error, as in kustomize."""
        files = base_files() | {"overlay/kustomization.yaml": {
            "resources": ["../base"],
            "configMapGenerator": [{"name": "web-config", "literals": ["X=1"]}],
        }}
        with pytest.raises(KustomizeError, match="already exists"):
            render(write_tree(tmp_path, files) / "overlay")


class TestTransformers:
    """namespace, labels, replicas, images and patches."""

    def test_labels_skip_selectors(self, tmp_path: Path) -> None:
        """includeSelectors: false labels objects and templates but never selectors."""
        files = base_files() | {"o/kustomization.yaml": {
            "resources": ["../base"], "namespace": "ns",
            "labels": [{"pairs": {"team": "crm"}, "includeSelectors": False,
                        "includeTemplates": True}],
        }}
        deployment = one(render(write_tree(tmp_path, files) / "o"), "Deployment")
        spec = deployment["spec"]
        assert deployment["metadata"]["labels"]["team"] == "crm"  # type: ignore[index]
        assert spec["template"]["metadata"]["labels"]["team"] == "crm"  # type: ignore[index]
        assert spec["selector"]["matchLabels"] == {"app.kubernetes.io/name": "web"}  # type: ignore[index]
        assert deployment["metadata"]["namespace"] == "ns"  # type: ignore[index]

    def test_images_and_replicas(self, tmp_path: Path) -> None:
        """images sets a digest in place of a tag; replicas sets the count."""
        digest = "sha256:" + "a" * 64
        files = base_files() | {"o/kustomization.yaml": {
            "resources": ["../base"],
            "images": [{"name": "web", "newName": "reg.example/web", "digest": digest}],
            "replicas": [{"name": "web", "count": 4}],
        }}
        deployment = one(render(write_tree(tmp_path, files) / "o"), "Deployment")
        container = deployment["spec"]["template"]["spec"]["containers"][0]  # type: ignore[index]
        assert container["image"] == f"reg.example/web@{digest}"
        assert deployment["spec"]["replicas"] == 4  # type: ignore[index]

    def test_json6902_remove_on_all_targets(self, tmp_path: Path) -> None:
        """A JSON6902 remove with a kind-only target applies to every match."""
        files = base_files() | {"o/kustomization.yaml": {
            "resources": ["../base"],
            "patches": [{"target": {"kind": "Deployment"},
                         "patch": "- op: remove\n  path: /spec/replicas\n"}],
        }}
        deployment = one(render(write_tree(tmp_path, files) / "o"), "Deployment")
        assert "replicas" not in deployment["spec"]  # type: ignore[operator]

    def test_patch_matching_nothing_fails(self, tmp_path: Path) -> None:
        """A patch whose target does not exist fails the build instead of vanishing."""
        files = base_files() | {"o/kustomization.yaml": {
            "resources": ["../base"],
            "patches": [{"target": {"kind": "StatefulSet"},
                         "patch": "- op: remove\n  path: /spec/replicas\n"}],
        }}
        with pytest.raises(KustomizeError, match="matched no object"):
            render(write_tree(tmp_path, files) / "o")

    def test_unknown_field_fails_loudly(self, tmp_path: Path) -> None:
        """Fields kustomize-lite does not implement are refused, not ignored."""
        files = {"k/kustomization.yaml": {"namePrefix": "x-"}}
        with pytest.raises(KustomizeError, match="namePrefix"):
            render(write_tree(tmp_path, files) / "k")


class TestPatches:
    """Strategic merge and JSON6902 semantics."""

    def test_containers_merge_by_name_env_by_name(self) -> None:
        """Containers and env merge on name; other lists are replaced; null deletes."""
        patch = {"spec": {"replicas": None, "template": {"spec": {"containers": [{
            "name": "server", "env": [{"name": "B", "value": "2"}], "args": ["x"]}]}}}}
        merged = strategic_merge(DEPLOYMENT, patch)
        container = merged["spec"]["template"]["spec"]["containers"][0]
        assert [e["name"] for e in container["env"]] == ["A", "B"]
        assert container["args"] == ["x"] and container["image"] == "web"
        assert "replicas" not in merged["spec"]
        assert DEPLOYMENT["spec"]["replicas"] == 1  # type: ignore[index]

    def test_delete_directive_and_port_key(self) -> None:
        """$patch: delete removes an item; container ports merge on containerPort."""
        patch = {"spec": {"template": {"spec": {"containers": [{
            "name": "server",
            "env": [{"name": "A", "$patch": "delete"}],
            "ports": [{"containerPort": 50051, "protocol": "TCP"}],
        }]}}}}
        container = strategic_merge(DEPLOYMENT, patch)["spec"]["template"]["spec"]["containers"][0]
        assert container["env"] == []
        assert container["ports"] == [{"name": "grpc", "containerPort": 50051, "protocol": "TCP"}]

    def test_json6902_operations(self) -> None:
        """add appends with '-', replace needs an existing path, remove of a missing path fails."""
        ops: list[dict[str, Any]] = [{"op": "add", "path": "/spec/template/spec/containers/0/env/-",
                "value": {"name": "C", "value": "3"}},
               {"op": "replace", "path": "/metadata/name", "value": "web2"}]
        patched = apply_json6902(DEPLOYMENT, ops)
        assert patched["metadata"]["name"] == "web2"
        assert patched["spec"]["template"]["spec"]["containers"][0]["env"][-1]["name"] == "C"
        with pytest.raises(PatchError):
            apply_json6902(DEPLOYMENT, [{"op": "remove", "path": "/spec/missing"}])
        with pytest.raises(PatchError):
            apply_json6902(DEPLOYMENT, [{"op": "move", "from": "/a", "path": "/b"}])

    @pytest.mark.parametrize(("reference", "expected"), [
        ("web", ("web", None, None)),
        ("reg:5000/web:1.2", ("reg:5000/web", "1.2", None)),
        ("web@sha256:ab", ("web", None, "sha256:ab")),
        ("reg:5000/team/web:1@sha256:ab", ("reg:5000/team/web", "1", "sha256:ab")),
    ])
    def test_split_image(
        self, reference: str, expected: tuple[str, str | None, str | None]
    ) -> None:
        """A registry port is not mistaken for a tag."""
        assert split_image(reference) == expected
