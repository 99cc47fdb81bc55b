"""Boot a rendered overlay's Deployments as local processes, the way the kubelet would start them.

For every Deployment (one pod each; replicas only change POD_NAME), `boot()`:

1. resolves each container's environment exactly as Kubernetes does: `envFrom` ConfigMaps and
   Secrets in order, then `env` (literal values, `secretKeyRef`, `configMapKeyRef`,
   `fieldRef: metadata.name`). A missing object or key, not marked optional, is a failure
   naming it, as it would be a CreateContainerConfigError in the cluster;
2. materialises its Secret and ConfigMap volumes as files in a temp dir and rewrites the
   mount paths in the environment to that dir;
3. supplies only what the pod world supplies, and nothing else: the Secrets the overlay leaves
   to the secret store (ExternalSecrets: every listed key, made up per key by
   `SecretStore`) or to the documented pre-apply step (dev identity keys), a pod IP
   (each container port is mapped to a free local port), cluster DNS (`<service>.crm.svc
   .cluster.local:<port>` becomes 127.0.0.1 and the target pod's local port; names outside
   the platform, such as the OpenTelemetry collector, a closed local port) and a database
   (DATABASE_URL becomes a fresh database on the local test PostgreSQL server);
4. starts every init container (`python -m <args>` per the image's ENTRYPOINT) and requires
   exit 0, then starts every container and requires its gRPC health (the probes' port and
   service names) to report SERVING, and the gateway's HTTP face to answer.

CRM_BOOT_PYTHON=/path/to/python runs the containers with another interpreter, e.g. of a venv
made from requirements.lock alone (what the image installs), with PYTHONPATH set as the
image sets it (generated code, runtime, the one service): the boot then also proves the
runtime lock and the service's own sources are all a container needs.

Before starting a process it also checks what the cluster needs but the process would not
complain about: gRPC and HTTP listeners bound to 0.0.0.0 (probes and other pods connect to
the pod IP), and settings the platform requires although the code has a fallback
(`PLATFORM_REQUIRED`). Any failure raises `BootFailure` whose message names the overlay, the
Deployment, the container and the missing setting or the process's last log lines.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from kustomize_real import Manifest, pod_spec_of

from crm_runtime.auth import generate_signing_key
from crm_runtime.crypto import new_key
from crm_runtime.testing import create_postgres_database, drop_postgres_database, free_port

NAMESPACE = "crm"
REPO_ROOT = Path(__file__).resolve().parents[2]
BOOT_PYTHON = os.environ.get("CRM_BOOT_PYTHON", "")
# The image's ENTRYPOINT (k8s/Dockerfile); containers give the module as args.
ENTRYPOINT = ("python", "-m")
# Settings the code treats as optional but a deployed platform must have (the fallback is a
# public constant or a per-process random key, wrong with more than one replica).
PLATFORM_REQUIRED: dict[str, tuple[str, ...]] = {
    "client": ("PAGE_TOKEN_KEYRING",),
    "risk": ("PAGE_TOKEN_KEYRING",),
    "notify": ("PAGE_TOKEN_KEYRING", "CLIENT_ADDR"),
    "feedback": ("PAGE_TOKEN_KEYRING", "CLIENT_ADDR"),
    "gateway": ("PAGE_TOKEN_KEYRING", "AUDIT_CHAIN_KEY", "API_KEY_PEPPER"),
}
# Secrets a dev cluster gets from the documented pre-apply step (docs/KUBERNETES.md, "Dev
# keys") rather than from the overlay.
PRE_APPLIED = re.compile(r"^(identity-trusted-keys|[a-z]+-identity-signing-key)$")
_CLUSTER_ADDRESS = re.compile(
    r"(?:dns:///)?([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local:(\d+)"
)
_WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", "[::]"})  # noqa: S104 - what a pod must bind


class BootFailure(AssertionError):
    """A container could not be configured, exited, or never became SERVING."""


def _key_material(secret_key: str) -> bytes:
    """Return a fresh key, or a one-key ring "k1:<key>" and its active id "k1"."""
    if secret_key.endswith("_ACTIVE_KEY_ID"):
        return b"k1"
    return (f"k1:{new_key()}" if secret_key.endswith("_KEYRING") else new_key()).encode()


class SecretStore:
    """Stands in for the bank's secret store: makes a plausible value for each listed key."""

    def __init__(self) -> None:
        self._identity: dict[str, tuple[bytes, bytes]] = {}

    def identity(self, workload: str) -> tuple[bytes, bytes]:
        """Return the (private, public) PEM pair of `workload`, the same on every call."""
        if workload not in self._identity:
            self._identity[workload] = generate_signing_key()
        return self._identity[workload]

    def value(self, secret_key: str, remote_key: str) -> bytes:
        """Return a value for `secret_key` stored under `remote_key` (crm/<workload>/...)."""
        workload = remote_key.split("/")[1] if remote_key.count("/") >= 2 else ""
        if secret_key == "DATABASE_URL":
            return f"postgresql+asyncpg://{workload}@{workload}-db.example:5432/{workload}".encode()
        if secret_key == "private.pem" and remote_key.endswith("/identity-signing-key"):
            return self.identity(workload)[0]
        if secret_key.endswith(".pem") and remote_key.endswith("/identity-public-key"):
            return self.identity(workload)[1]
        if secret_key in ("api-keys.json", "jwks.json"):
            return b'{"keys": []}'
        if secret_key == "REDIS_URL":  # A Redis outside the namespace: a closed port here.
            password = base64.b16encode(os.urandom(16)).decode().lower()
            return f"redis://:{password}@redis-master.redis.svc.cluster.local:6379/0".encode()
        if re.search(r"(KEY|SECRET|PEPPER|KEYRING|_ACTIVE_KEY_ID)$", secret_key):
            return _key_material(secret_key)
        raise BootFailure(f"the secret store stand-in cannot make {secret_key} ({remote_key})")


@dataclass
class Objects:
    """ConfigMaps and Secrets of the pod world, by name, as str -> bytes."""

    overlay: str
    config_maps: dict[str, dict[str, bytes]] = field(default_factory=dict)
    secrets: dict[str, dict[str, bytes]] = field(default_factory=dict)

    def get(self, kind: str, name: str, who: str) -> dict[str, bytes]:
        """Return the data of a ConfigMap or Secret, failing like the kubelet when absent."""
        table = self.config_maps if kind == "ConfigMap" else self.secrets
        if name not in table:
            raise BootFailure(
                f"{who}: {kind} {name!r} does not exist in the {self.overlay} overlay"
            )
        return table[name]


def pod_world_objects(
    overlay: str, manifests: list[Manifest], store: SecretStore
) -> Objects:
    """Collect rendered ConfigMaps and Secrets, plus the Secrets ExternalSecrets would create."""
    objects = Objects(overlay)
    for manifest in manifests:
        name = manifest["metadata"]["name"]
        if manifest["kind"] == "ConfigMap":
            objects.config_maps[name] = {
                k: v.encode() for k, v in (manifest.get("data") or {}).items()
            }
        elif manifest["kind"] == "Secret":
            data = {k: base64.b64decode(v) for k, v in (manifest.get("data") or {}).items()}
            data |= {k: v.encode() for k, v in (manifest.get("stringData") or {}).items()}
            objects.secrets[name] = data
        elif manifest["kind"] == "ExternalSecret":
            spec = manifest["spec"]
            if spec.get("dataFrom"):
                raise BootFailure(
                    f"{overlay}: ExternalSecret {name} uses dataFrom: list each key the "
                    "workload needs under data, so the manifests say what must be in the store"
                )
            objects.secrets[spec["target"]["name"]] = {
                item["secretKey"]: store.value(item["secretKey"], item["remoteRef"]["key"])
                for item in spec.get("data") or []
            }
    return objects


@dataclass
class Container:
    """One container of one pod, ready to run locally."""

    deployment: str
    name: str
    init: bool
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path
    probes: list[tuple[int, str]]  # (local port, gRPC health service name)
    http_port: int | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def label(self) -> str:
        """Return 'Deployment x container y'."""
        kind = "init container" if self.init else "container"
        return f"Deployment {self.deployment} {kind} {self.name}"

    def start(self) -> None:
        """Start the process, output to its log file."""
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def tail(self, lines: int = 25) -> str:
        """Return the end of the log, where a startup error is."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 15 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@dataclass
class BootReport:
    """What one overlay's boot started."""

    overlay: str
    deployments: list[str]
    init_exited_zero: list[str]
    serving: list[str]
    seconds: float

    def summary(self) -> str:
        """Return one line for the test output."""
        return (f"{self.overlay}: {len(self.deployments)} Deployments, "
                f"{len(self.init_exited_zero)} init containers exited 0, "
                f"{len(self.serving)} containers SERVING ({self.seconds:.1f} s)")


class Pod:
    """The local stand-in for one pod of a Deployment."""

    def __init__(self, overlay: str, deployment: Manifest, root: Path) -> None:
        self.overlay = overlay
        self.name = deployment["metadata"]["name"]
        self.spec: dict[str, Any] = pod_spec_of(deployment) or {}
        self.dir = root / self.name
        self.dir.mkdir(parents=True)
        # The pod IP: each declared container port gets a free local port.
        self.ports: dict[int, int] = {}
        self.port_names: dict[str, int] = {}
        for container in self.spec.get("containers") or []:
            for port in container.get("ports") or []:
                local = free_port()
                self.ports[int(port["containerPort"])] = local
                if "name" in port:
                    self.port_names[port["name"]] = local

    def local_port(self, port: int | str) -> int:
        """Return the local port standing in for a container port (number or name)."""
        if isinstance(port, str):
            return self.port_names[port]
        return self.ports[port]


class Cluster:
    """Rewrites cluster DNS names to the local ports of the booted pods."""

    def __init__(self, manifests: list[Manifest], pods: dict[str, Pod]) -> None:
        self._targets: dict[tuple[str, int], int] = {}
        self.closed_port = free_port()  # nothing listens: addresses outside the platform
        for service in (m for m in manifests if m["kind"] == "Service"):
            selector = (service["spec"].get("selector") or {}).get("app.kubernetes.io/name")
            pod = pods.get(str(selector))
            if pod is None:
                continue
            for port in service["spec"].get("ports") or []:
                target = port.get("targetPort", port["port"])
                with contextlib.suppress(KeyError):
                    local = pod.local_port(target)
                    self._targets[(service["metadata"]["name"], int(port["port"]))] = local

    def rewrite(self, value: str) -> str:
        """Replace every <service>.<namespace>.svc.cluster.local:<port> in `value`."""

        def replace(match: re.Match[str]) -> str:
            service, namespace, port = match.group(1), match.group(2), int(match.group(3))
            local = self._targets.get((service, port)) if namespace == NAMESPACE else None
            return f"127.0.0.1:{local or self.closed_port}"

        return _CLUSTER_ADDRESS.sub(replace, value)


def _field_value(ref: dict[str, Any], pod: Pod) -> str:
    path = ref["fieldPath"]
    values = {"metadata.name": f"{pod.name}-0", "metadata.namespace": NAMESPACE,
              "status.podIP": "127.0.0.1"}
    if path not in values:
        raise BootFailure(f"fieldRef {path} is not supported by the boot test")
    return values[path]


def resolve_env(container: dict[str, Any], pod: Pod, objects: Objects, who: str) -> dict[str, str]:
    """Return the environment Kubernetes gives `container` (envFrom first, then env)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            if key in source:
                ref = source[key]
                if ref.get("optional") and ref["name"] not in (
                    objects.config_maps if kind == "ConfigMap" else objects.secrets
                ):
                    continue
                data = objects.get(kind, ref["name"], who)
                prefix = source.get("prefix", "")
                env |= {prefix + k: v.decode() for k, v in data.items()}
    for var in container.get("env") or []:
        if "value" in var:
            env[var["name"]] = str(var["value"])
            continue
        source = var.get("valueFrom") or {}
        if "fieldRef" in source:
            env[var["name"]] = _field_value(source["fieldRef"], pod)
            continue
        for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
            if key in source:
                ref = source[key]
                data = objects.get(kind, ref["name"], who)
                if ref["key"] not in data:
                    if ref.get("optional"):
                        break
                    raise BootFailure(
                        f"{who}: {var['name']} comes from {kind} {ref['name']!r} key "
                        f"{ref['key']!r}, which does not exist"
                    )
                env[var["name"]] = data[ref["key"]].decode()
    return env


def materialise_mounts(
    container: dict[str, Any], pod: Pod, objects: Objects, who: str, where: Path
) -> dict[str, Path]:
    """Write the container's Secret/ConfigMap/emptyDir volumes; return mountPath -> local dir."""
    volumes = {v["name"]: v for v in pod.spec.get("volumes") or []}
    mounts: dict[str, Path] = {}
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount["name"])
        if volume is None:
            raise BootFailure(f"{who}: volumeMount {mount['name']} has no volume")
        local = where / mount["mountPath"].strip("/")
        local.mkdir(parents=True, exist_ok=True)
        mounts[mount["mountPath"]] = local
        for kind, key, name_field in (("Secret", "secret", "secretName"),
                                      ("ConfigMap", "configMap", "name")):
            if key not in volume:
                continue
            source = volume[key]
            data = objects.get(kind, source[name_field], f"{who} volume {mount['name']}")
            items = source.get("items") or [{"key": k, "path": k} for k in data]
            for item in items:
                if item["key"] not in data:
                    raise BootFailure(f"{who}: {kind} {source[name_field]!r} has no key "
                                      f"{item['key']!r} for volume {mount['name']}")
                path = local / item["path"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data[item["key"]])
    return mounts


def _rewrite_paths(value: str, mounts: dict[str, Path]) -> str:
    for mount_path in sorted(mounts, key=len, reverse=True):
        if value == mount_path or value.startswith(mount_path.rstrip("/") + "/"):
            return str(mounts[mount_path]) + value[len(mount_path.rstrip("/")):]
    return value


def _check_pod_settings(env: dict[str, str], container: dict[str, Any], workload: str,
                        who: str) -> None:
    """Fail on what the cluster needs but the process would not complain about."""
    ports = {p.get("name"): int(p["containerPort"]) for p in container.get("ports") or []}
    for name, host_var, port_var in (("grpc", "GRPC_HOST", "GRPC_PORT"),
                                     ("http", "HTTP_HOST", "HTTP_PORT")):
        if name not in ports:
            continue
        host = env.get(host_var, "unset (the code defaults to 127.0.0.1)")
        if host not in _WILDCARD_HOSTS:
            raise BootFailure(
                f"{who}: {host_var} is {host!r}; "
                f"the {name} port must listen on 0.0.0.0 so probes and other pods reach it"
            )
        if env.get(port_var) != str(ports[name]):
            raise BootFailure(f"{who}: {port_var}={env.get(port_var)!r} but the container "
                              f"port {name} is {ports[name]}")
    for setting in PLATFORM_REQUIRED.get(workload, ()):
        if not env.get(setting):
            raise BootFailure(f"{who}: {setting} is not set (required on the platform)")


async def _database_url(workload: str, made: list[str]) -> str:
    url, name = await create_postgres_database()
    made.append(name)
    return url


def _prepare(
    overlay: str, pod: Pod, container: dict[str, Any], *, init: bool, objects: Objects,
    cluster: Cluster, database_url: str,
) -> Container:
    kind = "init container" if init else "container"
    who = f"Deployment {pod.name} {kind} {container['name']}"
    where = pod.dir / container["name"]
    where.mkdir()
    env = resolve_env(container, pod, objects, who)
    if not init:
        _check_pod_settings(env, container, pod.name, who)
    else:
        for setting in PLATFORM_REQUIRED.get(pod.name, ()):
            if not env.get(setting):
                raise BootFailure(f"{who}: {setting} is not set (required on the platform)")
    mounts = materialise_mounts(container, pod, objects, who, where / "mnt")
    for key, rendered in list(env.items()):
        value = cluster.rewrite(_rewrite_paths(rendered, mounts))
        if key == "DATABASE_URL":
            if not value.startswith("postgresql+asyncpg://"):
                raise BootFailure(f"{who}: DATABASE_URL is not a postgresql+asyncpg:// URL")
            value = database_url
        if key.endswith("_PORT") and value.isdigit() and int(value) in pod.ports:
            value = str(pod.ports[int(value)])
        env[key] = value
    command = list(container.get("command") or ENTRYPOINT) + list(container.get("args") or [])
    python = BOOT_PYTHON or sys.executable
    argv = [python if command[0] in ("python", "python3") else command[0], *command[1:]]
    work = where / "work"
    work.mkdir()
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work),
            "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    if BOOT_PYTHON:  # the image's PYTHONPATH: generated code, runtime, console, this service
        source = "gateway" if pod.name == "gateway" else f"services/{pod.name}"
        base["PYTHONPATH"] = os.pathsep.join(
            str(REPO_ROOT / part) for part in ("gen/python", "runtime", "console", source)
        )
    probes: list[tuple[int, str]] = []
    for probe_name in ("startupProbe", "readinessProbe", "livenessProbe"):
        grpc_probe = (container.get(probe_name) or {}).get("grpc")
        if grpc_probe:
            probes.append((pod.local_port(int(grpc_probe["port"])),
                           str(grpc_probe.get("service", ""))))
    http_port = None
    for port in container.get("ports") or []:
        if port.get("name") == "http":
            http_port = pod.local_port("http")
    return Container(pod.name, container["name"], init, argv, {**base, **env}, work,
                     where / "log.txt", probes, http_port)


def _serving(port: int, service: str) -> bool:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=1
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def _http_answers(port: int) -> bool:
    # The gateway has no HTTP health route: its OpenAPI document proves the face is up.
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/openapi.json", timeout=1
        ) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def _failure(container: Container, what: str) -> BootFailure:
    return BootFailure(f"{container.label} {what}; last log lines:\n{container.tail()}")


def _wait_init(containers: list[Container], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for container in containers:
        assert container.proc is not None
        try:
            code = container.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise _failure(container, f"did not exit within {timeout:.0f} s") from None
        if code != 0:
            raise _failure(container, f"exited {code}")


def _wait_serving(containers: list[Container], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = list(containers)
    while pending:
        for container in list(pending):
            assert container.proc is not None
            if container.proc.poll() is not None:
                raise _failure(container, f"exited {container.proc.returncode} while starting")
            ready = all(_serving(port, service) for port, service in container.probes)
            if ready and container.http_port is not None:
                ready = _http_answers(container.http_port)
            if ready:
                pending.remove(container)
        if pending and time.monotonic() > deadline:
            names = ", ".join(c.label for c in pending)
            raise _failure(pending[0], f"not SERVING after {timeout:.0f} s ({names})")
        if pending:
            time.sleep(0.25)


@contextlib.contextmanager
def _databases() -> Iterator[list[str]]:
    made: list[str] = []
    try:
        yield made
    finally:
        for name in made:
            asyncio.run(drop_postgres_database(name))


def boot(
    overlay: str, manifests: list[Manifest], root: Path, *, only: tuple[str, ...] = (),
    timeout: float = 90.0, while_serving: Callable[[dict[str, Container]], None] | None = None,
) -> BootReport:
    """Start every Deployment of a rendered overlay locally; raise BootFailure on any problem.

    `while_serving`, when given, is called with the server containers by Deployment name
    once all are SERVING, before they are stopped.
    """
    started = time.monotonic()
    store = SecretStore()
    objects = pod_world_objects(overlay, manifests, store)
    deployments = [m for m in manifests if m["kind"] == "Deployment"
                   and (not only or m["metadata"]["name"] in only)]
    pods = {d["metadata"]["name"]: Pod(overlay, d, root) for d in deployments}
    # The documented pre-apply step (dev): identity key Secrets the overlay does not render.
    for pod in pods.values():
        for volume in pod.spec.get("volumes") or []:
            name = (volume.get("secret") or {}).get("secretName", "")
            if name in objects.secrets or not PRE_APPLIED.match(name):
                continue
            if name == "identity-trusted-keys":
                objects.secrets[name] = {f"{w}.pem": store.identity(w)[1]
                                         for w in ("client", "risk", "notify", "feedback",
                                                   "gateway")}
            else:
                workload = name.removesuffix("-identity-signing-key")
                objects.secrets[name] = {"private.pem": store.identity(workload)[0]}
    cluster = Cluster(manifests, pods)
    containers: list[Container] = []
    with _databases() as made:
        try:
            for pod in pods.values():
                url = asyncio.run(_database_url(pod.name, made))
                for init, key in ((True, "initContainers"), (False, "containers")):
                    containers += [
                        _prepare(overlay, pod, c, init=init, objects=objects, cluster=cluster,
                                 database_url=url)
                        for c in pod.spec.get(key) or []
                    ]
            inits = [c for c in containers if c.init]
            servers = [c for c in containers if not c.init]
            for container in inits:
                container.start()
            _wait_init(inits, timeout)
            for container in servers:
                container.start()
            _wait_serving(servers, timeout)
            if while_serving is not None:
                while_serving({c.deployment: c for c in servers})
        except BootFailure as failure:
            raise BootFailure(f"{overlay}: {failure}") from None
        finally:
            for container in containers:
                container.stop()
    return BootReport(overlay, list(pods), [c.label for c in inits],
                      [c.label for c in servers], time.monotonic() - started)
