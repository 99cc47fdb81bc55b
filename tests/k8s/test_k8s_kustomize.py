"""The real `kubectl kustomize` (pinned) behaves as the manifest checks assume.

Each test builds a throwaway tree in tmp_path, so the renderer's behaviours that the checks
rely on (hash-named generated objects and the references that follow them, merges, labels
kept out of selectors, images, replicas, patches) are pinned on inputs whose expected output
is known, independent of the repository's manifests. A kubectl upgrade that changes one of
them fails here first.
"""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml
from kustomize_real import KUBECTL_VERSION, KustomizeError, kubectl, render, split_image

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


def test_kubectl_is_the_pinned_build() -> None:
    """The renderer is the kubectl build pinned in requirements-dev.lock (kustomize v5)."""
    reply = subprocess.run([str(kubectl()), "version", "--client"], capture_output=True,
                           text=True, check=True)
    assert f"Client Version: v{KUBECTL_VERSION}" in reply.stdout
    assert "Kustomize Version: v5." in reply.stdout


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
        with pytest.raises(KustomizeError, match="behavior must be merge or replace"):
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

    def test_broken_kustomization_fails(self, tmp_path: Path) -> None:
        """A resource that does not exist fails the build with kustomize's own message."""
        files = {"k/kustomization.yaml": {"resources": ["missing.yaml"]}}
        with pytest.raises(KustomizeError, match=r"missing\.yaml"):
            render(write_tree(tmp_path, files) / "k")


class TestPatchesAndImages:
    """Strategic merge patches and image references."""

    def test_strategic_merge_by_name(self, tmp_path: Path) -> None:
        """Containers and env merge on name; other lists are replaced; null deletes."""
        patch = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                 "spec": {"replicas": None, "template": {"spec": {"containers": [{
                     "name": "server", "env": [{"name": "B", "value": "2"}], "args": ["x"]}]}}}}
        files = base_files() | {"o/patch.yaml": patch, "o/kustomization.yaml": {
            "resources": ["../base"], "patches": [{"path": "patch.yaml"}],
        }}
        deployment = one(render(write_tree(tmp_path, files) / "o"), "Deployment")
        container = deployment["spec"]["template"]["spec"]["containers"][0]  # type: ignore[index]
        assert sorted(e["name"] for e in container["env"]) == ["A", "B"]
        assert container["args"] == ["x"] and container["image"] == "web"
        assert "replicas" not in deployment["spec"]  # type: ignore[operator]

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
