"""Checks on rendered manifests: each returns the violations it finds (empty means clean).

Checks are plain functions over manifest dictionaries so that the tests can run them on the
rendered overlays and, to prove each one can fail, on deliberately broken copies.
"""

from __future__ import annotations

import re
from typing import Any

from k8s_platform import EVENT_SUBSCRIBERS, GRPC_PORT, NAME_LABEL, Workload, headless_address
from kustomize_real import Manifest, containers_of, pod_spec_of

# Names of settings whose value is a credential: they may come only from a Secret.
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEY|CREDENTIAL|DATABASE_URL", re.IGNORECASE)
# ...unless the setting names a location, e.g. IDENTITY_SIGNING_KEY_FILE.
_LOCATION_SUFFIX = re.compile(r"_(FILE|DIR|PATH)$", re.IGNORECASE)
_HASH_SUFFIX = re.compile(r"-[a-z0-9]{10}$")
_PYTHON_SLEEP = re.compile(r"time\.sleep\((\d+(?:\.\d+)?)\)")
_ALLOWED_ADDED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
# The writable scratch directory every container must get from an emptyDir.
SCRATCH_DIR = "/tmp"  # noqa: S108 - a mount path being checked, not a temporary file


def find(manifests: list[Manifest], kind: str, name: str) -> Manifest | None:
    """Return the object of `kind` named `name`, or None."""
    return next(
        (m for m in manifests if m.get("kind") == kind and m["metadata"].get("name") == name),
        None,
    )


def server_container(deployment: Manifest) -> dict[str, Any]:
    """Return the container named `server` (an empty dict when there is none)."""
    pod_spec = pod_spec_of(deployment) or {}
    return next((c for c in pod_spec.get("containers") or [] if c.get("name") == "server"), {})


def is_secret_like(name: str) -> bool:
    """Return whether a setting with this name holds a credential."""
    return bool(_SECRET_NAME.search(name)) and not _LOCATION_SUFFIX.search(name)


def check_namespace_restricted(manifests: list[Manifest], namespace: str) -> list[str]:
    """Check the Namespace enforces, audits and warns on Pod Security "restricted"."""
    found = find(manifests, "Namespace", namespace)
    if found is None:
        return [f"Namespace {namespace} is missing"]
    labels = found["metadata"].get("labels") or {}
    return [
        f"Namespace {namespace}: pod-security.kubernetes.io/{mode} is not restricted"
        for mode in ("enforce", "audit", "warn")
        if labels.get(f"pod-security.kubernetes.io/{mode}") != "restricted"
    ]


def check_pod_security(workload: Manifest) -> list[str]:
    """Check a pod template meets Pod Security "restricted" and our hardening rules."""
    name = f"{workload['kind']} {workload['metadata']['name']}"
    pod = pod_spec_of(workload) or {}
    pod_context = pod.get("securityContext") or {}
    problems = [
        f"{name}: {field} must not be set"
        for field in ("hostNetwork", "hostPID", "hostIPC") if pod.get(field)
    ]
    if pod_context.get("runAsNonRoot") is not True:
        problems.append(f"{name}: pod runAsNonRoot is not true")
    if pod_context.get("runAsUser", 1) == 0:
        problems.append(f"{name}: pod runs as uid 0")
    if pod.get("automountServiceAccountToken") is not False:
        problems.append(f"{name}: automountServiceAccountToken is not false")
    empty_dirs = {v["name"] for v in pod.get("volumes") or [] if "emptyDir" in v}
    problems += [
        f"{name}: volume {v['name']} uses hostPath" for v in pod.get("volumes") or []
        if "hostPath" in v
    ]
    pod_seccomp = (pod_context.get("seccompProfile") or {}).get("type")
    for container in containers_of(pod):
        where = f"{name} container {container.get('name')}"
        context = container.get("securityContext") or {}
        seccomp = (context.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp != "RuntimeDefault":
            problems.append(f"{where}: seccompProfile is not RuntimeDefault")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: allowPrivilegeEscalation is not false")
        if context.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{where}: readOnlyRootFilesystem is not true")
        if context.get("privileged"):
            problems.append(f"{where}: privileged")
        if context.get("runAsNonRoot") is False or context.get("runAsUser") == 0:
            problems.append(f"{where}: may run as root")
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            problems.append(f"{where}: capabilities do not drop ALL")
        extra = set(capabilities.get("add") or []) - _ALLOWED_ADDED_CAPABILITIES
        if extra:
            problems.append(f"{where}: adds capabilities {sorted(extra)}")
        if any("hostPort" in port for port in container.get("ports") or []):
            problems.append(f"{where}: uses a hostPort")
        mounts = container.get("volumeMounts") or []
        tmp_mounts = [m for m in mounts if m["mountPath"] == SCRATCH_DIR]
        if not tmp_mounts or tmp_mounts[0]["name"] not in empty_dirs:
            problems.append(f"{where}: {SCRATCH_DIR} is not an emptyDir")
    return problems


def check_probes(deployment: Manifest, workload: Workload) -> list[str]:
    """Check native gRPC startup, readiness (service name) and liveness ("") probes."""
    name = f"Deployment {deployment['metadata']['name']}"
    server = server_container(deployment)
    problems: list[str] = []
    expectations = (
        ("startupProbe", None, None),
        ("readinessProbe", workload.grpc_service, 5),
        ("livenessProbe", "", 10),
    )
    for probe_name, service, period in expectations:
        probe = server.get(probe_name) or {}
        grpc = probe.get("grpc")
        if grpc is None or grpc.get("port") != GRPC_PORT:
            problems.append(f"{name}: {probe_name} is not a gRPC probe on {GRPC_PORT}")
            continue
        if service is not None and grpc.get("service", "") != service:
            problems.append(f"{name}: {probe_name} asks for {grpc.get('service')!r}, "
                            f"expected {service!r}")
        if period is not None and probe.get("periodSeconds", 10) != period:
            problems.append(f"{name}: {probe_name} period is not {period}s")
    startup = server.get("startupProbe") or {}
    budget = startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3)
    if budget < 60:
        problems.append(f"{name}: startupProbe allows only {budget}s for DB wait and start")
    return problems


def prestop_seconds(container: dict[str, Any]) -> float | None:
    """Return how long the preStop hook sleeps (sleep action or python time.sleep)."""
    pre_stop = (container.get("lifecycle") or {}).get("preStop") or {}
    if "sleep" in pre_stop:
        return float(pre_stop["sleep"]["seconds"])
    command = " ".join((pre_stop.get("exec") or {}).get("command") or [])
    match = _PYTHON_SLEEP.search(command)
    return float(match.group(1)) if match else None


def check_termination(deployment: Manifest, config: dict[str, str]) -> list[str]:
    """Check terminationGracePeriodSeconds > preStop sleep + DRAIN_SECONDS + GRACE_SECONDS."""
    name = f"Deployment {deployment['metadata']['name']}"
    sleep = prestop_seconds(server_container(deployment))
    if sleep is None:
        return [f"{name}: server has no preStop sleep"]
    if "GRACE_SECONDS" not in config:
        return [f"{name}: GRACE_SECONDS is not configured"]
    grace = float(config["GRACE_SECONDS"])
    drain = float(config.get("DRAIN_SECONDS", "0"))
    period = (pod_spec_of(deployment) or {}).get("terminationGracePeriodSeconds", 30)
    if not period > sleep + drain + grace:
        return [f"{name}: terminationGracePeriodSeconds {period} <= preStop {sleep:g} + "
                f"drain {drain:g} + grace {grace:g}"]
    return []


def check_resources(workload: Manifest) -> list[str]:
    """Check every container requests CPU and memory and limits memory."""
    name = f"{workload['kind']} {workload['metadata']['name']}"
    problems = []
    for container in containers_of(pod_spec_of(workload) or {}):
        resources = container.get("resources") or {}
        for section, key in (("requests", "cpu"), ("requests", "memory"), ("limits", "memory")):
            if not (resources.get(section) or {}).get(key):
                problems.append(f"{name} container {container.get('name')}: no {section}.{key}")
    return problems


def check_grpc_port(deployment: Manifest) -> list[str]:
    """Check the `server` container exposes 50051 under the name `grpc`."""
    ports = server_container(deployment).get("ports") or []
    if any(p.get("name") == "grpc" and p.get("containerPort") == GRPC_PORT for p in ports):
        return []
    return [f"Deployment {deployment['metadata']['name']}: no container port grpc/{GRPC_PORT}"]


def check_no_secret_literals(manifests: list[Manifest]) -> list[str]:
    """Check no credential-like setting has a literal value in env or in a ConfigMap."""
    problems = []
    for manifest in manifests:
        label = f"{manifest['kind']} {manifest['metadata']['name']}"
        if manifest["kind"] == "ConfigMap":
            problems += [f"{label}: {key} is a credential in a ConfigMap"
                         for key in manifest.get("data") or {} if is_secret_like(key)]
        for container in containers_of(pod_spec_of(manifest) or {}):
            problems += [
                f"{label} container {container['name']}: {var['name']} has a literal value"
                for var in container.get("env") or []
                if "value" in var and is_secret_like(var["name"])
            ]
    return problems


def check_database_and_migration(deployment: Manifest, workload: Workload) -> list[str]:
    """Check DATABASE_URL comes from a Secret and an initContainer runs the migrations."""
    name = f"Deployment {deployment['metadata']['name']}"
    pod = pod_spec_of(deployment) or {}
    server = server_container(deployment)
    problems = []
    migrators = [c for c in pod.get("initContainers") or []
                 if c.get("args") == [f"{workload.module}.migrate"]]
    if not migrators:
        problems.append(f"{name}: no initContainer runs {workload.module}.migrate")
    elif migrators[0].get("image") != server.get("image"):
        problems.append(f"{name}: the migration runs a different image than the server")
    if server.get("args") != [workload.module]:
        problems.append(f"{name}: server args are not [{workload.module!r}]")
    for container in [server, *migrators]:
        urls = [v for v in container.get("env") or [] if v.get("name") == "DATABASE_URL"]
        if not urls or "secretKeyRef" not in (urls[0].get("valueFrom") or {}):
            problems.append(f"{name} {container.get('name')}: DATABASE_URL not from a Secret")
    return problems


def container_config(deployment: Manifest, manifests: list[Manifest]) -> dict[str, str]:
    """Return the settings the server container gets from its envFrom ConfigMaps."""
    settings: dict[str, str] = {}
    for source in server_container(deployment).get("envFrom") or []:
        reference = (source.get("configMapRef") or {}).get("name", "")
        config_map = find(manifests, "ConfigMap", reference)
        settings.update((config_map or {}).get("data") or {})
    return settings


def check_generated_config(deployment: Manifest, manifests: list[Manifest],
                           workload: Workload) -> list[str]:
    """Check env comes from hash-named generated ConfigMaps holding the service's settings."""
    name = f"Deployment {deployment['metadata']['name']}"
    references = [(s.get("configMapRef") or {}).get("name", "")
                  for s in server_container(deployment).get("envFrom") or []]
    problems = []
    for base in ("crm-common-config", f"{workload.name}-config"):
        matching = [r for r in references if r.startswith(base + "-") and _HASH_SUFFIX.search(r)]
        if not matching:
            problems.append(f"{name}: envFrom lacks the generated ConfigMap {base}-<hash>")
        elif find(manifests, "ConfigMap", matching[0]) is None:
            problems.append(f"{name}: ConfigMap {matching[0]} is not in the output")
    config = container_config(deployment, manifests)
    expected = {
        "SERVICE_NAME": workload.name,
        "GRPC_HOST": "0.0.0.0",  # noqa: S104 - pods must listen on their pod IP
        "GRPC_PORT": str(GRPC_PORT),
        "IDENTITY_SIGNING_KID": workload.name,
        # The initContainer migrates; a server migrating too would race its siblings.
        "MIGRATE_ON_START": "0",
    }
    subscribers = EVENT_SUBSCRIBERS[workload.name]
    if subscribers:
        expected["EVENT_SUBSCRIBERS"] = ",".join(f"{s}={headless_address(s)}" for s in subscribers)
    for key, value in expected.items():
        if config.get(key) != value:
            problems.append(f"{name}: {key} is {config.get(key)!r}, expected {value!r}")
    for key in ("MAX_CONNECTION_AGE_MS", "OTEL_EXPORTER_OTLP_ENDPOINT",
                "IDENTITY_TRUSTED_KEYS_DIR", "IDENTITY_SIGNING_KEY_FILE"):
        if not config.get(key):
            problems.append(f"{name}: {key} is not configured")
    if not subscribers and "EVENT_SUBSCRIBERS" in config:
        problems.append(f"{name}: has EVENT_SUBSCRIBERS but publishes to nobody")
    return problems


def check_selectors(manifests: list[Manifest]) -> list[str]:
    """Check selectors use only the name label and templates carry it."""
    problems = []
    for manifest in manifests:
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        spec = manifest.get("spec") or {}
        if kind in ("Deployment", "StatefulSet", "PodDisruptionBudget"):
            selector = spec.get("selector") or {}
            if set(selector) != {"matchLabels"} or set(selector["matchLabels"]) != {NAME_LABEL}:
                problems.append(f"{kind} {name}: selector is not matchLabels on {NAME_LABEL}")
            elif kind != "PodDisruptionBudget":
                template_labels = spec["template"]["metadata"].get("labels") or {}
                if any(template_labels.get(k) != v for k, v in selector["matchLabels"].items()):
                    problems.append(f"{kind} {name}: template labels do not match the selector")
        if kind == "Service" and set(spec.get("selector") or {}) != {NAME_LABEL}:
            problems.append(f"Service {name}: selector is not {NAME_LABEL} only")
    return problems
