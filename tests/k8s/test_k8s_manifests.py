"""Render every overlay with the real `kubectl kustomize` and check it against the deployment rules.

STYLE.md §5 and RELIABILITY.md §1, §4 and §7 item 23: restricted pods, gRPC probes, drain
timing, resources, generated config, secrets only from Secrets, headless Services, budgets,
autoscaling in prod, and network policies that open exactly the platform's flows.
"""

from __future__ import annotations

import functools

import pytest
from k8s_checks import (
    check_database_and_migration,
    check_generated_config,
    check_grpc_port,
    check_namespace_restricted,
    check_no_secret_literals,
    check_pod_security,
    check_probes,
    check_resources,
    check_selectors,
    check_termination,
    container_config,
    find,
)
from k8s_platform import K8S_ROOT, NAMESPACE, OVERLAYS, WORKLOADS, Workload
from k8s_platform_checks import (
    PLACEHOLDER_DIGEST,
    check_autoscaling,
    check_disruption_budgets,
    check_headless_services,
    check_images_pinned,
    check_network_policies,
    check_part_of_label,
    check_replicas,
)
from kustomize_real import Manifest, pod_spec_of, render


@functools.cache
def rendered(overlay: str) -> list[Manifest]:
    """Render an overlay once per test session (checks only read the result)."""
    return render(K8S_ROOT / "overlays" / overlay)


def deployment(overlay: str, workload: Workload) -> Manifest:
    """Return the rendered Deployment of `workload`, failing the test when it is missing."""
    found = find(rendered(overlay), "Deployment", workload.name)
    assert found is not None, f"{overlay}: Deployment {workload.name} missing"
    return found


OVERLAY_WORKLOADS = [
    pytest.param(overlay, workload, id=f"{overlay}-{workload.name}")
    for overlay in OVERLAYS for workload in WORKLOADS
]


@pytest.mark.parametrize(("overlay", "workload"), OVERLAY_WORKLOADS)
class TestWorkload:
    """Per overlay and workload: the Deployment follows every pod-level rule."""

    def test_pod_is_restricted(self, overlay: str, workload: Workload) -> None:
        """Pod and containers meet Pod Security restricted, with /tmp on an emptyDir."""
        assert check_pod_security(deployment(overlay, workload)) == []

    def test_probes_are_grpc(self, overlay: str, workload: Workload) -> None:
        """Startup, readiness (service name, 5 s) and liveness ("", 10 s) are gRPC probes."""
        assert check_probes(deployment(overlay, workload), workload) == []

    def test_termination_outlasts_drain(self, overlay: str, workload: Workload) -> None:
        """terminationGracePeriodSeconds exceeds the preStop sleep plus the stop grace."""
        found = deployment(overlay, workload)
        config = container_config(found, rendered(overlay))
        assert check_termination(found, config) == []

    def test_resources_are_set(self, overlay: str, workload: Workload) -> None:
        """Every container requests CPU and memory and limits memory."""
        assert check_resources(deployment(overlay, workload)) == []

    def test_grpc_port_is_named(self, overlay: str, workload: Workload) -> None:
        """The server container exposes 50051 named grpc."""
        assert check_grpc_port(deployment(overlay, workload)) == []

    def test_database_and_migration(self, overlay: str, workload: Workload) -> None:
        """DATABASE_URL comes from a Secret; an initContainer runs the migrations first."""
        assert check_database_and_migration(deployment(overlay, workload), workload) == []

    def test_config_is_generated(self, overlay: str, workload: Workload) -> None:
        """env comes from hash-named generated ConfigMaps with the service's settings."""
        found = deployment(overlay, workload)
        assert check_generated_config(found, rendered(overlay), workload) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
class TestOverlay:
    """Per overlay: namespace, Services, budgets, secrets and network policies."""

    def test_namespace_enforces_restricted(self, overlay: str) -> None:
        """The namespace enforces, audits and warns on Pod Security restricted."""
        assert check_namespace_restricted(rendered(overlay), NAMESPACE) == []

    def test_every_object_is_in_the_namespace(self, overlay: str) -> None:
        """Every namespaced object lands in the crm namespace."""
        stray = [m["metadata"]["name"] for m in rendered(overlay)
                 if m["kind"] != "Namespace" and m["metadata"].get("namespace") != NAMESPACE]
        assert stray == []

    def test_all_pods_are_restricted(self, overlay: str) -> None:
        """Every pod template, the dev database included, passes the restricted checks."""
        problems = [p for m in rendered(overlay) if pod_spec_of(m) is not None
                    for p in check_pod_security(m) + check_resources(m)]
        assert problems == []

    def test_no_secret_literals(self, overlay: str) -> None:
        """No credential-like setting has a literal value in env or in a ConfigMap."""
        assert check_no_secret_literals(rendered(overlay)) == []

    def test_selectors_use_only_the_name_label(self, overlay: str) -> None:
        """Selectors match on app.kubernetes.io/name only; templates carry it."""
        assert check_selectors(rendered(overlay)) == []

    def test_part_of_label_everywhere(self, overlay: str) -> None:
        """Every object carries app.kubernetes.io/part-of: crm."""
        assert check_part_of_label(rendered(overlay)) == []

    def test_backends_have_headless_services(self, overlay: str) -> None:
        """Each gRPC backend has a headless Service for client-side round_robin."""
        assert check_headless_services(rendered(overlay)) == []

    def test_every_deployment_has_a_budget(self, overlay: str) -> None:
        """Each Deployment has a PodDisruptionBudget with maxUnavailable 1."""
        assert check_disruption_budgets(rendered(overlay)) == []

    def test_network_policies_open_only_listed_flows(self, overlay: str) -> None:
        """Default deny, DNS allowed, and exactly the call graph's flows are open."""
        assert check_network_policies(rendered(overlay), NAMESPACE) == []


class TestOverlayDifferences:
    """What each environment changes on top of the base."""

    def test_dev_runs_one_replica(self) -> None:
        """Dev runs a single replica of each workload."""
        assert check_replicas(rendered("dev"), 1) == []

    def test_staging_runs_two_replicas(self) -> None:
        """Staging runs two replicas, so drains and balancing are exercised."""
        assert check_replicas(rendered("staging"), 2) == []

    def test_prod_autoscales_without_replicas(self) -> None:
        """Prod has an HPA per Deployment (CPU 70 %, 2 replicas or more) and no replicas."""
        assert check_autoscaling(rendered("prod")) == []

    def test_prod_images_are_pinned_by_digest(self) -> None:
        """Prod images carry digests; the committed ones are the all-zero placeholder."""
        manifests = rendered("prod")
        assert check_images_pinned(manifests, allow_placeholder=True) == []
        # The release gate (allow_placeholder=False) must refuse what is committed.
        assert len(check_images_pinned(manifests, allow_placeholder=False)) == 2 * len(WORKLOADS)
        assert PLACEHOLDER_DIGEST.endswith("0" * 64)

    def test_dev_has_its_database_and_no_external_secrets(self) -> None:
        """Dev brings PostgreSQL and generated dev Secrets; it needs no secret store."""
        kinds = {m["kind"] for m in rendered("dev")}
        assert "StatefulSet" in kinds and "ExternalSecret" not in kinds
        secrets = {m["metadata"]["name"].rsplit("-", 1)[0]
                   for m in rendered("dev") if m["kind"] == "Secret"}
        assert {f"{w.name}-database" for w in WORKLOADS} <= secrets

    @pytest.mark.parametrize("overlay", ["staging", "prod"])
    def test_secrets_come_from_the_secret_store(self, overlay: str) -> None:
        """Staging and prod hold no Secret objects; ExternalSecrets create every one used."""
        manifests = rendered(overlay)
        assert [m for m in manifests if m["kind"] == "Secret"] == []
        targets = {m["spec"]["target"]["name"] for m in manifests
                   if m["kind"] == "ExternalSecret"}
        used = set()
        for workload in WORKLOADS:
            pod = pod_spec_of(deployment(overlay, workload)) or {}
            used |= {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
            containers = pod["containers"] + pod["initContainers"]
            used |= {e["valueFrom"]["secretKeyRef"]["name"] for c in containers for e in c["env"]
                     if "secretKeyRef" in (e.get("valueFrom") or {})}
            used |= {s["secretRef"]["name"] for c in containers for s in c["envFrom"]
                     if "secretRef" in s}
        assert used == targets
