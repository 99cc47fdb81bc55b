"""The prod overlay carries the scale-out settings of docs/SCALING.md, rendered with the real
`kubectl kustomize`: events through NATS JetStream for every workload, the gateway's limits in
Redis from the secret store, replica ranges from the sizing, and egress to exactly the two
dependencies installed by their Helm charts (k8s/dependencies), never a home-made copy."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import yaml
from k8s_checks import container_config, find, server_container
from k8s_netpol import Endpoint, connection_allowed
from k8s_platform import K8S_ROOT, WORKLOADS
from kustomize_real import Manifest, render

NATS_URL = "nats://nats.nats.svc.cluster.local:4222"
# Replica ranges (HPA min..max) from docs/SCALING.md, "Replicas".
PROD_REPLICAS = {
    "gateway": (3, 4),
    "client": (2, 5),
    "risk": (2, 5),
    "notify": (2, 3),
    "feedback": (2, 3),
}
JETSTREAM = {
    "JETSTREAM_REPLICAS": "3",
    "JETSTREAM_MAX_AGE_HOURS": "168",
    "JETSTREAM_MAX_BYTES": str(20 * 1024**3),
    "JETSTREAM_DUPLICATE_WINDOW_SECONDS": "120",
}
SCALING_DOC = Path(__file__).resolve().parents[2] / "docs" / "SCALING.md"


@functools.cache
def rendered(overlay: str) -> list[Manifest]:
    """Render an overlay once per session."""
    return render(K8S_ROOT / "overlays" / overlay)


def _deployment(overlay: str, name: str) -> Manifest:
    found = find(rendered(overlay), "Deployment", name)
    assert found is not None, f"{overlay}: Deployment {name} missing"
    return found


class TestProdScaleOut:
    @pytest.mark.parametrize("workload", [w.name for w in WORKLOADS])
    def test_events_go_through_jetstream(self, workload: str) -> None:
        """Every prod workload reads EVENT_TRANSPORT=nats, the chart's NATS service and the
        stream limits of the sizing from its generated config."""
        config = container_config(_deployment("prod", workload), rendered("prod"))
        assert config["EVENT_TRANSPORT"] == "nats"
        assert config["NATS_URL"] == NATS_URL
        assert {key: config.get(key) for key in JETSTREAM} == JETSTREAM

    def test_gateway_limits_in_redis_from_the_secret_store(self) -> None:
        """The gateway's REDIS_URL (it holds the Redis password) comes from the gateway-redis
        Secret, which an ExternalSecret fills; no other workload gets it."""
        manifests = rendered("prod")
        env = {e["name"]: e for e in server_container(_deployment("prod", "gateway"))["env"]}
        assert env["REDIS_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": "gateway-redis", "key": "REDIS_URL"}
        external = find(manifests, "ExternalSecret", "gateway-redis")
        assert external is not None
        assert external["spec"]["data"][0]["secretKey"] == "REDIS_URL"
        for workload in (w.name for w in WORKLOADS if w.name != "gateway"):
            names = {e["name"] for e in server_container(_deployment("prod", workload))["env"]}
            assert "REDIS_URL" not in names
            assert "REDIS_URL" not in container_config(_deployment("prod", workload), manifests)

    def test_replica_ranges_follow_the_sizing(self) -> None:
        """Each HPA's min..max is the range docs/SCALING.md derives, and the document says so."""
        hpas = {m["spec"]["scaleTargetRef"]["name"]: m["spec"] for m in rendered("prod")
                if m["kind"] == "HorizontalPodAutoscaler"}
        ranges = {name: (spec["minReplicas"], spec["maxReplicas"]) for name, spec in hpas.items()}
        assert ranges == PROD_REPLICAS
        doc = SCALING_DOC.read_text()
        for name, (low, high) in PROD_REPLICAS.items():
            assert f"| {name} | {low} | {high} |" in doc, name

    def test_dependencies_reachable_and_nothing_more(self) -> None:
        """Every workload may reach NATS (namespace nats) on 4222; only the gateway may reach
        Redis (namespace redis) on 6379; no workload reaches either on another port."""
        policies = [m for m in rendered("prod") if m["kind"] == "NetworkPolicy"]
        nats = Endpoint("nats", {"app.kubernetes.io/name": "nats"})
        redis = Endpoint("redis", {"app.kubernetes.io/name": "redis"})
        for workload in WORKLOADS:
            pod = Endpoint("crm", {"app.kubernetes.io/name": workload.name})
            assert connection_allowed(policies, pod, nats, 4222), workload.name
            assert not connection_allowed(policies, pod, nats, 6222), workload.name
            gateway = workload.name == "gateway"
            assert connection_allowed(policies, pod, redis, 6379) is gateway, workload.name

    def test_no_home_made_broker_or_cache(self) -> None:
        """NATS and Redis are installed by their charts (values in k8s/dependencies), not by
        StatefulSets of ours: prod renders none, and the values name the chart's settings."""
        assert [m for m in rendered("prod") if m["kind"] == "StatefulSet"] == []
        nats = yaml.safe_load((K8S_ROOT / "dependencies" / "nats-values.yaml").read_text())
        assert nats["config"]["cluster"]["replicas"] >= int(JETSTREAM["JETSTREAM_REPLICAS"])
        size = nats["config"]["jetstream"]["fileStore"]["pvc"]["size"]
        assert int(size.removesuffix("Gi")) * 1024**3 > int(JETSTREAM["JETSTREAM_MAX_BYTES"])
        redis = yaml.safe_load((K8S_ROOT / "dependencies" / "redis-values.yaml").read_text())
        assert redis["auth"]["enabled"] is True


class TestOtherOverlaysStayLocal:
    @pytest.mark.parametrize("overlay", ["dev", "staging"])
    def test_no_broker_or_redis_needed(self, overlay: str) -> None:
        """Dev and staging keep the default transport and in-memory limits: they need no
        NATS or Redis installed."""
        for workload in WORKLOADS:
            deployment = _deployment(overlay, workload.name)
            config = container_config(deployment, rendered(overlay))
            assert config.get("EVENT_TRANSPORT", "grpc") == "grpc"
            names = {e["name"] for e in server_container(deployment).get("env") or []}
            assert "REDIS_URL" not in names and "REDIS_URL" not in config
