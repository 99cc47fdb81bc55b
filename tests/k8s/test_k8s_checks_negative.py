"""Each manifest check fails on a deliberately broken copy of a good rendered overlay.

A check that cannot fail proves nothing: every case below breaks one rule in otherwise valid
output and expects the matching violation, so a check silently weakened later shows up here.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

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
    is_secret_like,
)
from k8s_platform import K8S_ROOT, NAMESPACE, WORKLOADS
from k8s_platform_checks import (
    check_autoscaling,
    check_disruption_budgets,
    check_headless_services,
    check_images_pinned,
    check_network_policies,
    check_part_of_label,
    check_replicas,
)
from kustomize_real import Manifest, render

CLIENT = WORKLOADS[0]
Breaker = Callable[[list[Manifest]], list[str]]


@functools.cache
def _good(overlay: str) -> list[Manifest]:
    return render(K8S_ROOT / "overlays" / overlay)


def fresh(overlay: str = "dev") -> list[Manifest]:
    """Return a private copy of a rendered overlay that a case may break."""
    return copy.deepcopy(_good(overlay))


def obj(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    """Return an object that must exist in the rendered overlay."""
    found = find(manifests, kind, name)
    assert found is not None
    return found


def pod(manifests: list[Manifest], name: str = "client") -> dict[str, Any]:
    """Return the pod spec of a Deployment."""
    spec: dict[str, Any] = obj(manifests, "Deployment", name)["spec"]["template"]["spec"]
    return spec


def server(manifests: list[Manifest], name: str = "client") -> dict[str, Any]:
    """Return the server container of a Deployment."""
    return pod(manifests, name)["containers"][0]  # type: ignore[no-any-return]


def policy(manifests: list[Manifest], name: str) -> dict[str, Any]:
    """Return the spec of a NetworkPolicy."""
    return obj(manifests, "NetworkPolicy", name)["spec"]  # type: ignore[no-any-return]


def _security(m: list[Manifest]) -> list[str]:
    return check_pod_security(obj(m, "Deployment", "client"))


def _probes(m: list[Manifest]) -> list[str]:
    return check_probes(obj(m, "Deployment", "client"), CLIENT)


def _termination(m: list[Manifest]) -> list[str]:
    found = obj(m, "Deployment", "client")
    return check_termination(found, container_config(found, m))


def _netpol(m: list[Manifest]) -> list[str]:
    return check_network_policies(m, NAMESPACE)


def _mutate(mutation: Callable[[list[Manifest]], object], check: Breaker,
            overlay: str = "dev") -> Callable[[], list[str]]:
    def run() -> list[str]:
        manifests = fresh(overlay)
        mutation(manifests)
        return check(manifests)
    return run


def _drop_key(holder: dict[str, Any], key: str) -> None:
    del holder[key]


def _no_seccomp(m: list[Manifest]) -> None:
    del pod(m)["securityContext"]["seccompProfile"]
    del server(m)["securityContext"]["seccompProfile"]


def _tmp_from_configmap(m: list[Manifest]) -> None:
    pod(m)["volumes"][0] = {"name": "tmp", "configMap": {"name": "scratch"}}


def _notify_calls_risk(m: list[Manifest]) -> None:
    policy(m, "risk")["ingress"][0]["from"].append(
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "notify"}}})
    policy(m, "notify")["egress"][0]["to"].append(
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "risk"}}})


CASES: list[tuple[str, Callable[[], list[str]], str]] = [
    ("namespace-not-enforced", _mutate(
        lambda m: _drop_key(obj(m, "Namespace", "crm")["metadata"]["labels"],
                            "pod-security.kubernetes.io/enforce"),
        lambda m: check_namespace_restricted(m, NAMESPACE)), "enforce is not restricted"),
    ("pod-may-run-as-root", _mutate(
        lambda m: pod(m)["securityContext"].update(runAsNonRoot=False), _security),
     "pod runAsNonRoot is not true"),
    ("uid-zero", _mutate(lambda m: pod(m)["securityContext"].update(runAsUser=0), _security),
     "pod runs as uid 0"),
    ("privilege-escalation", _mutate(
        lambda m: server(m)["securityContext"].update(allowPrivilegeEscalation=True), _security),
     "allowPrivilegeEscalation is not false"),
    ("writable-root", _mutate(
        lambda m: _drop_key(server(m)["securityContext"], "readOnlyRootFilesystem"), _security),
     "readOnlyRootFilesystem is not true"),
    ("capabilities-kept", _mutate(
        lambda m: server(m)["securityContext"]["capabilities"].update(drop=[]), _security),
     "do not drop ALL"),
    ("capability-added", _mutate(
        lambda m: server(m)["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]),
        _security), "adds capabilities ['SYS_ADMIN']"),
    ("no-seccomp", _mutate(_no_seccomp, _security),
     "seccompProfile is not RuntimeDefault"),
    ("privileged", _mutate(
        lambda m: server(m)["securityContext"].update(privileged=True), _security), "privileged"),
    ("host-network", _mutate(lambda m: pod(m).update(hostNetwork=True), _security),
     "hostNetwork must not be set"),
    ("host-path", _mutate(
        lambda m: pod(m)["volumes"].append({"name": "h", "hostPath": {"path": "/"}}), _security),
     "uses hostPath"),
    ("host-port", _mutate(lambda m: server(m)["ports"][0].update(hostPort=50051), _security),
     "uses a hostPort"),
    ("token-mounted", _mutate(
        lambda m: _drop_key(pod(m), "automountServiceAccountToken"), _security),
     "automountServiceAccountToken is not false"),
    ("tmp-not-emptydir", _mutate(_tmp_from_configmap, _security),
     "/tmp is not an emptyDir"),  # noqa: S108 - expected message text
    ("readiness-wrong-service", _mutate(
        lambda m: server(m)["readinessProbe"]["grpc"].update(service="crm.risk.v1.RiskService"),
        _probes), "readinessProbe asks for 'crm.risk.v1.RiskService'"),
    ("liveness-depends-on-service", _mutate(
        lambda m: server(m)["livenessProbe"]["grpc"].update(service=CLIENT.grpc_service),
        _probes), "livenessProbe asks for"),
    ("readiness-slow", _mutate(
        lambda m: server(m)["readinessProbe"].update(periodSeconds=30), _probes),
     "readinessProbe period is not 5s"),
    ("startup-not-grpc", _mutate(
        lambda m: server(m).update(startupProbe={"tcpSocket": {"port": 50051}}), _probes),
     "startupProbe is not a gRPC probe"),
    ("startup-too-short", _mutate(
        lambda m: server(m)["startupProbe"].update(failureThreshold=3), _probes),
     "startupProbe allows only 15s"),
    ("grace-too-short", _mutate(
        lambda m: pod(m).update(terminationGracePeriodSeconds=15), _termination),
     "terminationGracePeriodSeconds 15 <= preStop 5 + drain 0 + grace 10"),
    ("drain-too-long", _mutate(
        lambda m: next(c for c in m if c["metadata"]["name"].startswith("crm-common-config"))
        ["data"].update(DRAIN_SECONDS="20"), _termination), "drain 20 + grace 10"),
    ("no-prestop", _mutate(lambda m: _drop_key(server(m), "lifecycle"), _termination),
     "no preStop sleep"),
    ("no-memory-limit", _mutate(
        lambda m: _drop_key(server(m)["resources"], "limits"),
        lambda m: check_resources(obj(m, "Deployment", "client"))), "no limits.memory"),
    ("init-without-cpu", _mutate(
        lambda m: _drop_key(pod(m)["initContainers"][0]["resources"]["requests"], "cpu"),
        lambda m: check_resources(obj(m, "Deployment", "client"))), "migrate: no requests.cpu"),
    ("grpc-port-renamed", _mutate(
        lambda m: server(m)["ports"][0].update(name="rpc"),
        lambda m: check_grpc_port(obj(m, "Deployment", "client"))), "no container port grpc"),
    ("database-url-literal", _mutate(
        lambda m: server(m)["env"].append({"name": "DATABASE_URL", "value": "postgresql://u:p@h"}),
        check_no_secret_literals), "DATABASE_URL has a literal value"),
    ("password-literal", _mutate(
        lambda m: server(m)["env"].append({"name": "SMTP_PASSWORD", "value": "hunter2"}),
        check_no_secret_literals), "SMTP_PASSWORD has a literal value"),
    ("token-in-configmap", _mutate(
        lambda m: next(c for c in m if c["kind"] == "ConfigMap")["data"].update(API_TOKEN="t"),
        check_no_secret_literals), "API_TOKEN is a credential in a ConfigMap"),
    ("no-migration", _mutate(
        lambda m: pod(m).update(initContainers=[]),
        lambda m: check_database_and_migration(obj(m, "Deployment", "client"), CLIENT)),
     "no initContainer runs crm_client.migrate"),
    ("migration-other-image", _mutate(
        lambda m: pod(m)["initContainers"][0].update(image="crm-client:old"),
        lambda m: check_database_and_migration(obj(m, "Deployment", "client"), CLIENT)),
     "migration runs a different image"),
    ("database-url-not-secret", _mutate(
        lambda m: server(m)["env"][0].update(valueFrom={"configMapKeyRef": {"name": "x"}}),
        lambda m: check_database_and_migration(obj(m, "Deployment", "client"), CLIENT)),
     "server: DATABASE_URL not from a Secret"),
    ("config-not-generated", _mutate(
        lambda m: server(m)["envFrom"][1]["configMapRef"].update(name="client-config"),
        lambda m: check_generated_config(obj(m, "Deployment", "client"), m, CLIENT)),
     "lacks the generated ConfigMap client-config-<hash>"),
    ("wrong-subscribers", _mutate(
        lambda m: obj(m, "ConfigMap", server(m)["envFrom"][1]["configMapRef"]["name"])["data"]
        .update(EVENT_SUBSCRIBERS="risk=dns:///risk-headless.crm.svc.cluster.local:50051"),
        lambda m: check_generated_config(obj(m, "Deployment", "client"), m, CLIENT)),
     "EVENT_SUBSCRIBERS is"),
    ("selector-with-part-of", _mutate(
        lambda m: obj(m, "Deployment", "risk")["spec"]["selector"]["matchLabels"]
        .update({"app.kubernetes.io/part-of": "crm"}), check_selectors),
     "Deployment risk: selector is not matchLabels"),
    ("service-selector-extra", _mutate(
        lambda m: obj(m, "Service", "notify")["spec"]["selector"].update(tier="x"),
        check_selectors), "Service notify: selector"),
    ("no-headless", _mutate(
        lambda m: m.remove(obj(m, "Service", "feedback-headless")), check_headless_services),
     "feedback: no headless Service"),
    ("headless-with-ip", _mutate(
        lambda m: obj(m, "Service", "risk-headless")["spec"].update(clusterIP="10.0.0.9"),
        check_headless_services), "risk: no headless Service"),
    ("no-pdb", _mutate(
        lambda m: m.remove(obj(m, "PodDisruptionBudget", "risk")), check_disruption_budgets),
     "Deployment risk has no PodDisruptionBudget"),
    ("pdb-too-loose", _mutate(
        lambda m: obj(m, "PodDisruptionBudget", "notify")["spec"].update(maxUnavailable=2),
        check_disruption_budgets), "not maxUnavailable: 1"),
    ("dev-three-replicas", _mutate(
        lambda m: obj(m, "Deployment", "gateway")["spec"].update(replicas=3),
        lambda m: check_replicas(m, 1)), "Deployment gateway: replicas 3 != 1"),
    ("prod-replicas-fight-hpa", _mutate(
        lambda m: obj(m, "Deployment", "client")["spec"].update(replicas=2), check_autoscaling,
        "prod"), "Deployment client sets replicas"),
    ("prod-no-hpa", _mutate(
        lambda m: m.remove(obj(m, "HorizontalPodAutoscaler", "risk")), check_autoscaling, "prod"),
     "Deployment risk has no HorizontalPodAutoscaler"),
    ("prod-hpa-cpu-80", _mutate(
        lambda m: obj(m, "HorizontalPodAutoscaler", "notify")["spec"]["metrics"][0]["resource"]
        ["target"].update(averageUtilization=80), check_autoscaling, "prod"),
     "HPA notify: CPU target is not 70%"),
    ("prod-image-by-tag", _mutate(
        lambda m: server(m).update(image="crm-client:latest"),
        lambda m: check_images_pinned(m, allow_placeholder=True), "prod"),
     "is not pinned by digest"),
    ("no-part-of", _mutate(
        lambda m: _drop_key(obj(m, "PodDisruptionBudget", "client")["metadata"]["labels"],
                            "app.kubernetes.io/part-of"), check_part_of_label),
     "PodDisruptionBudget client: no app.kubernetes.io/part-of"),
    ("no-default-deny", _mutate(
        lambda m: m.remove(obj(m, "NetworkPolicy", "default-deny-all")), _netpol),
     "no default-deny NetworkPolicy"),
    ("no-dns", _mutate(
        lambda m: m.remove(obj(m, "NetworkPolicy", "allow-dns-egress")), _netpol),
     "client cannot resolve DNS over UDP"),
    ("unlisted-caller", _mutate(_notify_calls_risk, _netpol),
     "notify may reach risk:50051"),
    ("listed-flow-closed", _mutate(
        lambda m: policy(m, "notify")["egress"].pop(0), _netpol),
     "notify cannot reach client:50051"),
    ("allow-all-egress", _mutate(
        lambda m: policy(m, "risk")["egress"].append({}), _netpol),
     "risk reaches the internet on [-1]"),
    ("internet-reaches-private", _mutate(
        lambda m: policy(m, "notify")["egress"][3]["to"][0]["ipBlock"]["except"].remove(
            "10.0.0.0/8"), _netpol), "ipBlock 0.0.0.0/0 reaches 10.0.0.0/8"),
    ("internet-for-client", _mutate(
        lambda m: policy(m, "client")["egress"].append(
            {"to": [{"ipBlock": {"cidr": "8.8.8.8/32"}}], "ports": [{"port": 443}]}), _netpol),
     "client reaches the internet on [443]"),
    ("ingress-to-a-service", _mutate(
        lambda m: policy(m, "risk")["ingress"].append(policy(m, "gateway")["ingress"][0]),
        _netpol),
     "the ingress controller may reach risk:50051"),
    ("collector-any-port", _mutate(
        lambda m: _drop_key(policy(m, "risk")["egress"][2], "ports"), _netpol),
     "risk may reach the collector on a non-OTLP port"),
    ("wrong-database", _mutate(
        lambda m: policy(m, "client")["egress"][1]["to"][0]["podSelector"].update(
            matchLabels={"db.crm/risk": "true"}), _netpol),
     "client cannot reach its own database"),
    ("other-namespace-caller", _mutate(
        lambda m: policy(m, "client")["ingress"][0]["from"].append({"namespaceSelector": {}}),
        _netpol), "a pod in another namespace reaches client:50051"),
]


class TestChecksFail:
    """Every check reports the rule a broken manifest violates."""

    @pytest.mark.parametrize(("case", "expected"),
                             [pytest.param(run, text, id=name) for name, run, text in CASES])
    def test_violation_reported(self, case: Callable[[], list[str]], expected: str) -> None:
        """The broken copy yields a violation naming the broken rule."""
        problems = case()
        assert any(expected in problem for problem in problems), problems

    @pytest.mark.parametrize("overlay", ["dev", "staging", "prod"])
    def test_unbroken_copy_is_clean(self, overlay: str) -> None:
        """Control: the same checks on an unmodified copy report nothing."""
        manifests = fresh(overlay)
        found = obj(manifests, "Deployment", "client")
        problems = (check_pod_security(found) + check_probes(found, CLIENT)
                    + check_termination(found, container_config(found, manifests))
                    + check_no_secret_literals(manifests) + _netpol(manifests))
        assert problems == []


class TestSecretNames:
    """Which setting names count as credentials."""

    @pytest.mark.parametrize("name", ["DATABASE_URL", "SMTP_PASSWORD", "API_KEY",
                                      "WEBHOOK_SECRET", "auth_token", "IDENTITY_KEY"])
    def test_credential_names(self, name: str) -> None:
        """Credential-like names are flagged."""
        assert is_secret_like(name)

    @pytest.mark.parametrize("name", ["IDENTITY_SIGNING_KEY_FILE", "IDENTITY_TRUSTED_KEYS_DIR",
                                      "LOG_LEVEL", "TLS_KEY_PATH", "GRPC_PORT"])
    def test_location_and_plain_names(self, name: str) -> None:
        """Names of locations and ordinary settings are not."""
        assert not is_secret_like(name)
