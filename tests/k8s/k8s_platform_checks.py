"""Checks that span objects: Services, budgets, autoscaling, images and network flows.

Like `k8s_checks`, every function returns the violations it finds, so tests can show each
one failing on a deliberately broken manifest.
"""

from __future__ import annotations

import re
from typing import Any

from k8s_checks import find
from k8s_netpol import (
    Endpoint,
    connection_allowed,
    egress_allowed,
    ip_block_problems,
    policy_selects,
    policy_types,
)
from k8s_platform import (
    BACKENDS,
    DATABASE_PORT,
    DNS_LABELS,
    DNS_NAMESPACE,
    GRPC_CALLS,
    GRPC_PORT,
    HTTP_PORT,
    INGRESS_LABELS,
    INGRESS_NAMESPACE,
    INTERNET_EGRESS,
    NAME_LABEL,
    OTEL_LABELS,
    OTEL_NAMESPACE,
    OTEL_PORT,
    PART_OF_LABEL,
    WORKLOAD_NAMES,
    database_label,
)
from kustomize_real import Manifest, containers_of, pod_spec_of, split_image

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
PLACEHOLDER_DIGEST = "sha256:" + "0" * 64


def check_headless_services(manifests: list[Manifest]) -> list[str]:
    """Check each gRPC backend has a headless Service `<name>-headless` on port grpc."""
    problems = []
    for backend in BACKENDS:
        service = find(manifests, "Service", f"{backend}-headless")
        spec = (service or {}).get("spec") or {}
        if service is None or spec.get("clusterIP") != "None":
            problems.append(f"{backend}: no headless Service {backend}-headless")
            continue
        if spec.get("selector") != {NAME_LABEL: backend}:
            problems.append(f"Service {backend}-headless does not select {backend}")
        if not any(p.get("name") == "grpc" and p.get("port") == GRPC_PORT
                   for p in spec.get("ports") or []):
            problems.append(f"Service {backend}-headless has no port grpc/{GRPC_PORT}")
    for service in (m for m in manifests if m["kind"] == "Service"):
        target = (service["spec"].get("selector") or {}).get(NAME_LABEL)
        if target in BACKENDS and find(manifests, "Service", f"{target}-headless") is None:
            problems.append(f"Service {service['metadata']['name']}: {target} has no headless twin")
    return problems


def check_disruption_budgets(manifests: list[Manifest]) -> list[str]:
    """Check every Deployment has a PodDisruptionBudget with maxUnavailable 1 selecting it."""
    budgets = [m for m in manifests if m["kind"] == "PodDisruptionBudget"]
    problems = []
    for deployment in (m for m in manifests if m["kind"] == "Deployment"):
        labels = deployment["spec"]["template"]["metadata"].get("labels") or {}
        covering = [
            b for b in budgets
            if all(labels.get(k) == v for k, v in b["spec"]["selector"]["matchLabels"].items())
        ]
        name = deployment["metadata"]["name"]
        if not covering:
            problems.append(f"Deployment {name} has no PodDisruptionBudget")
        elif covering[0]["spec"].get("maxUnavailable") != 1:
            problems.append(f"PodDisruptionBudget for {name} is not maxUnavailable: 1")
    return problems


def check_replicas(manifests: list[Manifest], expected: int) -> list[str]:
    """Check every Deployment runs exactly `expected` replicas (dev, staging)."""
    return [
        f"Deployment {m['metadata']['name']}: replicas {m['spec'].get('replicas')} != {expected}"
        for m in manifests
        if m["kind"] == "Deployment" and m["spec"].get("replicas") != expected
    ]


def check_autoscaling(manifests: list[Manifest]) -> list[str]:
    """Check each Deployment has an autoscaling/v2 HPA (CPU 70 %, at least 2 replicas so the
    budget always leaves one serving, a maximum no lower) and no replicas field. The ranges
    themselves follow docs/SCALING.md (test_k8s_scaling.py)."""
    problems = []
    for deployment in (m for m in manifests if m["kind"] == "Deployment"):
        name = deployment["metadata"]["name"]
        if "replicas" in deployment["spec"]:
            problems.append(f"Deployment {name} sets replicas; it would fight the HPA")
        hpas = [m for m in manifests if m["kind"] == "HorizontalPodAutoscaler"
                and m["spec"]["scaleTargetRef"].get("name") == name
                and m["spec"]["scaleTargetRef"].get("kind") == "Deployment"]
        if not hpas:
            problems.append(f"Deployment {name} has no HorizontalPodAutoscaler")
            continue
        hpa = hpas[0]
        spec = hpa["spec"]
        if hpa["apiVersion"] != "autoscaling/v2":
            problems.append(f"HPA {name} is not autoscaling/v2")
        low, high = spec.get("minReplicas", 1), spec.get("maxReplicas", 0)
        if low < 2 or high < low:
            problems.append(f"HPA {name}: replicas range {low}..{high} is not 2 or more")
        cpu_targets = [
            metric["resource"]["target"] for metric in spec.get("metrics") or []
            if metric.get("type") == "Resource" and metric["resource"]["name"] == "cpu"
        ]
        if cpu_targets != [{"type": "Utilization", "averageUtilization": 70}]:
            problems.append(f"HPA {name}: CPU target is not 70% utilisation")
    return problems


def check_images_pinned(manifests: list[Manifest], *, allow_placeholder: bool) -> list[str]:
    """Check every CRM image is pinned by digest (a release refuses the all-zero one)."""
    problems = []
    for manifest in manifests:
        if manifest["kind"] != "Deployment":
            continue
        for container in containers_of(pod_spec_of(manifest) or {}):
            _, tag, digest = split_image(container["image"])
            where = f"Deployment {manifest['metadata']['name']} container {container['name']}"
            if digest is None or not _DIGEST.match(digest):
                problems.append(f"{where}: image {container['image']} is not pinned by digest")
            elif digest == PLACEHOLDER_DIGEST and not allow_placeholder:
                problems.append(f"{where}: image digest is still the placeholder")
            if tag is not None:
                problems.append(f"{where}: image has both a tag and a digest")
    return problems


def check_part_of_label(manifests: list[Manifest]) -> list[str]:
    """Check every object carries app.kubernetes.io/part-of: crm."""
    return [
        f"{m['kind']} {m['metadata']['name']}: no {PART_OF_LABEL}=crm label"
        for m in manifests
        if (m["metadata"].get("labels") or {}).get(PART_OF_LABEL) != "crm"
    ]


def _pods(manifests: list[Manifest], namespace: str) -> dict[str, Endpoint]:
    namespace_object = find(manifests, "Namespace", namespace) or {"metadata": {}}
    namespace_labels = namespace_object["metadata"].get("labels") or {}
    pods = {}
    for manifest in manifests:
        pod_spec = pod_spec_of(manifest)
        if pod_spec is None:
            continue
        ports = {p["name"]: p["containerPort"] for c in containers_of(pod_spec)
                 for p in c.get("ports") or [] if "name" in p}
        labels = manifest["spec"]["template"]["metadata"].get("labels") or {}
        pods[manifest["metadata"]["name"]] = Endpoint(namespace, labels, namespace_labels, ports)
    return pods


def _outside(namespace: str, labels: dict[str, str]) -> Endpoint:
    return Endpoint(namespace, labels)


def check_network_policies(manifests: list[Manifest], namespace: str) -> list[str]:
    """Check default deny, DNS, and that exactly the platform's flows are open."""
    policies = [m for m in manifests if m["kind"] == "NetworkPolicy"]
    problems = ip_block_problems(policies)
    if not any((p["spec"].get("podSelector") or {}) == {}
               and set(p["spec"].get("policyTypes") or []) == {"Ingress", "Egress"}
               and not p["spec"].get("ingress") and not p["spec"].get("egress")
               for p in policies):
        problems.append("no default-deny NetworkPolicy for Ingress and Egress")
    pods = _pods(manifests, namespace)
    dns = _outside(DNS_NAMESPACE, DNS_LABELS)
    stranger = _outside("default", {NAME_LABEL: "intruder"})
    for name, pod in pods.items():
        for protocol in ("UDP", "TCP"):
            if not connection_allowed(policies, pod, dns, 53, protocol):
                problems.append(f"{name} cannot resolve DNS over {protocol}")
        for port in sorted(set(pod.named_ports.values())):
            if connection_allowed(policies, stranger, pod, port):
                problems.append(f"a pod in another namespace reaches {name}:{port}")
    problems += _check_workload_flows(policies, pods)
    return problems


def _check_workload_flows(policies: list[dict[str, Any]], pods: dict[str, Endpoint]) -> list[str]:
    problems = []
    database_pods = {n: p for n, p in pods.items() if n not in WORKLOAD_NAMES}
    for source_name in WORKLOAD_NAMES:
        source = pods[source_name]
        for target_name, target in pods.items():
            if source_name == target_name:
                continue
            for port in sorted(set(target.named_ports.values())):
                wanted = (source_name, target_name) in GRPC_CALLS and port == GRPC_PORT
                if target_name in database_pods:
                    wanted = port == DATABASE_PORT and all(
                        target.labels.get(k) == v for k, v in database_label(source_name).items()
                    )
                if connection_allowed(policies, source, target, port) != wanted:
                    verb = "cannot reach" if wanted else "may reach"
                    problems.append(f"{source_name} {verb} {target_name}:{port}")
        # Wherever the database runs (dev pod, pooler in front of a managed one), the
        # service's own egress must allow its database and nobody else's.
        own_db = Endpoint(source.namespace, database_label(source_name))
        other = next(n for n in WORKLOAD_NAMES if n != source_name)
        if not egress_allowed(policies, source, own_db, DATABASE_PORT):
            problems.append(f"{source_name} cannot reach its own database")
        if egress_allowed(policies, source, Endpoint(source.namespace, database_label(other)),
                          DATABASE_PORT):
            problems.append(f"{source_name} may reach the database of {other}")
        collector = _outside(OTEL_NAMESPACE, OTEL_LABELS)
        if not connection_allowed(policies, source, collector, OTEL_PORT):
            problems.append(f"{source_name} cannot export telemetry to the collector")
        if connection_allowed(policies, source, collector, GRPC_PORT):
            problems.append(f"{source_name} may reach the collector on a non-OTLP port")
        ingress_controller = _outside(INGRESS_NAMESPACE, INGRESS_LABELS)
        for port in sorted(set(source.named_ports.values())):
            # HTTP/JSON (and server-sent events) and gRPC through the gateway only.
            wanted = source_name == "gateway" and port in (HTTP_PORT, GRPC_PORT)
            if connection_allowed(policies, ingress_controller, source, port) != wanted:
                verb = "cannot reach" if wanted else "may reach"
                problems.append(f"the ingress controller {verb} {source_name}:{port}")
        internet_ports = _internet_ports(policies, source)
        if internet_ports != INTERNET_EGRESS.get(source_name, frozenset()):
            problems.append(f"{source_name} reaches the internet on {sorted(internet_ports)}")
    return problems


def _internet_ports(policies: list[dict[str, Any]], pod: Endpoint) -> frozenset[int]:
    ports: set[int] = set()
    for policy in policies:
        if not policy_selects(policy, pod) or "Egress" not in policy_types(policy):
            continue
        for rule in policy["spec"].get("egress") or []:
            if not rule.get("to"):
                ports.add(-1)  # An allow-everything rule: never expected.
            elif any("ipBlock" in peer for peer in rule["to"]):
                ports.update(int(p["port"]) for p in rule.get("ports") or [{"port": -1}])
    return frozenset(ports)

