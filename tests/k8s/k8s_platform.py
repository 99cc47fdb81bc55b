"""What the CRM platform's Kubernetes deployment must look like: workloads and call graph.

The manifest checks compare rendered overlays with this description, so the expected flows
are written down once, here, next to the reasons for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
K8S_ROOT = REPO_ROOT / "k8s"
OVERLAYS = ("dev", "staging", "prod")
NAMESPACE = "crm"
GRPC_PORT = 50051
HTTP_PORT = 8080
NAME_LABEL = "app.kubernetes.io/name"
PART_OF_LABEL = "app.kubernetes.io/part-of"


@dataclass(frozen=True)
class Workload:
    """One Deployment of the platform."""

    name: str
    grpc_service: str  # Health service name the readiness probe asks for.

    @property
    def module(self) -> str:
        """Return the Python module the server container runs."""
        return f"crm_{self.name}"

    @property
    def image(self) -> str:
        """Return the image name before overlays set tags or digests."""
        return f"crm-{self.name}"


WORKLOADS = (
    Workload("client", "crm.client.v1.ClientService"),
    Workload("risk", "crm.risk.v1.RiskService"),
    Workload("notify", "crm.notify.v1.NotificationService"),
    Workload("feedback", "crm.feedback.v1.FeedbackService"),
    Workload("gateway", "crm.gateway.v1.GatewayService"),
)
WORKLOAD_NAMES = tuple(w.name for w in WORKLOADS)
# gRPC backends are reached through headless Services; the gateway is reached via Ingress.
BACKENDS = tuple(n for n in WORKLOAD_NAMES if n != "gateway")

# Every gRPC connection one workload opens to another: synchronous calls and event relays.
GRPC_CALLS: frozenset[tuple[str, str]] = frozenset({
    # The gateway routes external calls to every service.
    ("gateway", "client"), ("gateway", "risk"), ("gateway", "notify"), ("gateway", "feedback"),
    # Event relays: each producer delivers its outbox to its subscribers.
    ("client", "risk"), ("client", "notify"), ("client", "feedback"),
    ("risk", "client"), ("risk", "notify"), ("risk", "feedback"),
    ("feedback", "risk"), ("feedback", "notify"),
    # notify resolves campaign recipients, feedback survey segments, through client.
    ("notify", "client"), ("feedback", "client"),
})
# Event subscribers per producer, as the EVENT_SUBSCRIBERS setting must list them.
EVENT_SUBSCRIBERS: dict[str, tuple[str, ...]] = {
    "client": ("risk", "notify", "feedback"),
    "risk": ("client", "notify", "feedback"),
    "feedback": ("risk", "notify"),
    "notify": (),
    "gateway": (),
}

DATABASE_PORT = 5432
OTEL_NAMESPACE, OTEL_LABELS, OTEL_PORT = (
    "observability", {NAME_LABEL: "otel-collector"}, 4317
)
INGRESS_NAMESPACE, INGRESS_LABELS = "ingress-nginx", {NAME_LABEL: "ingress-nginx"}
DNS_NAMESPACE, DNS_LABELS = "kube-system", {"k8s-app": "kube-dns"}
# Only notify talks to the internet: SMTP submission and HTTPS webhook providers.
INTERNET_EGRESS: dict[str, frozenset[int]] = {"notify": frozenset({587, 443})}


def database_label(workload: str) -> dict[str, str]:
    """Return the label a database pod carries when it serves `workload`."""
    return {f"db.crm/{workload}": "true"}


def headless_address(workload: str) -> str:
    """Return the gRPC target other workloads use to reach `workload`."""
    return f"dns:///{workload}-headless.{NAMESPACE}.svc.cluster.local:{GRPC_PORT}"
