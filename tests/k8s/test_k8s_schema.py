"""Validate every rendered object against the Kubernetes OpenAPI schemas, offline.

`kubernetes-validate` ships the JSON schemas of each Kubernetes release, so CI needs neither
a cluster nor the network. Strict mode rejects unknown fields (typos such as `readinesProbe`).
1.30 is the oldest supported release: the preStop `sleep` action is on by default from 1.30
(the 1.29 schema already has the field, but there it sits behind an alpha feature gate).
"""

from __future__ import annotations

import functools

import pytest
from k8s_platform import K8S_ROOT, OVERLAYS
from kustomize_real import Manifest, render

kubernetes_validate = pytest.importorskip("kubernetes_validate")

MIN_KUBERNETES = "1.30.0"
LATEST_KUBERNETES = "1.37.0"
# Custom resources have no schema in the package; their shape is checked below instead.
CUSTOM_KINDS = frozenset({"ExternalSecret", "PodMonitor", "PrometheusRule"})


@functools.cache
def rendered(overlay: str) -> list[Manifest]:
    """Render an overlay once per session."""
    return render(K8S_ROOT / "overlays" / overlay)


def schema_errors(manifests: list[Manifest], version: str) -> list[str]:
    """Return one message per object the schema of `version` rejects."""
    errors = []
    for manifest in manifests:
        if manifest["kind"] in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{manifest['kind']} {manifest['metadata']['name']}: {error}")
    return errors


class TestSchemas:
    """Rendered overlays are valid Kubernetes objects."""

    # Every overlay on the oldest supported release; prod (the superset of kinds) on the newest.
    @pytest.mark.parametrize(("overlay", "version"), [
        *((overlay, MIN_KUBERNETES) for overlay in OVERLAYS), ("prod", LATEST_KUBERNETES),
    ])
    def test_overlay_matches_schema(self, overlay: str, version: str) -> None:
        """Every built-in object validates strictly against the release's schema."""
        assert schema_errors(rendered(overlay), version) == []

    def test_typo_is_rejected(self) -> None:
        """Strict validation catches a misspelt field that the API server would drop."""
        deployment = next(m for m in rendered("dev") if m["kind"] == "Deployment")
        broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
        assert schema_errors([broken], MIN_KUBERNETES) != []


class TestExternalSecrets:
    """Staging and prod ExternalSecrets are well-formed and point at the platform's store."""

    @pytest.mark.parametrize("overlay", ["staging", "prod"])
    def test_shape(self, overlay: str) -> None:
        """Each names the ClusterSecretStore, targets its own name and maps every key."""
        secrets = [m for m in rendered(overlay) if m["kind"] == "ExternalSecret"]
        # Per workload: database URL, signing key, app keys; plus the trusted key bundle and
        # the gateway's caller authentication files; prod adds the gateway's Redis URL.
        assert len(secrets) == 3 * 5 + 2 + (overlay == "prod")
        for secret in secrets:
            spec = secret["spec"]
            assert secret["apiVersion"] == "external-secrets.io/v1"
            assert spec["secretStoreRef"] == {"kind": "ClusterSecretStore",
                                              "name": "crm-secret-store"}
            assert spec["target"]["name"] == secret["metadata"]["name"]
            remote_keys = [item["remoteRef"]["key"] for item in spec.get("data") or []]
            remote_keys += [item["extract"]["key"] for item in spec.get("dataFrom") or []]
            assert remote_keys
            assert all(key.startswith("crm/") for key in remote_keys)
            assert all(item["secretKey"] for item in spec.get("data") or [])
