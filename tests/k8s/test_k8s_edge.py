"""The edge in every overlay (issue 12, item 2): a gRPC route over TLS for unary and streaming
calls, with timeouts as long as a stream may live and no cap on a stream's total size, and the
server-sent events route unbuffered. Broken copies show each rule can fail."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from k8s_checks import find
from k8s_platform import OVERLAYS
from kustomize_real import Manifest

# The manifest checks' renders, cached per session: no overlay is rendered twice.
from test_k8s_manifests import rendered

from crm_gateway.config import GatewaySettings

NGINX = "nginx.ingress.kubernetes.io/"
TIMEOUTS = (f"{NGINX}proxy-read-timeout", f"{NGINX}proxy-send-timeout")
STREAM_SECONDS = GatewaySettings.model_fields["default_stream_deadline_seconds"].default
EVENTS_PATH = "/v1/messages:events"


def _annotations(ingress: Manifest) -> dict[str, str]:
    return ingress["metadata"].get("annotations") or {}


def _backends(ingress: Manifest) -> set[tuple[str, str]]:
    return {
        (path["backend"]["service"]["name"], path["backend"]["service"]["port"].get("name", ""))
        for rule in ingress["spec"].get("rules") or []
        for path in rule["http"]["paths"]
    }


def _tls_problems(ingress: Manifest) -> list[str]:
    name = ingress["metadata"]["name"]
    tls = ingress["spec"].get("tls") or []
    covered = {host for entry in tls if entry.get("secretName") for host in entry.get("hosts", [])}
    hosts = {rule.get("host") for rule in ingress["spec"].get("rules") or []}
    if not tls or not hosts <= covered:
        return [f"{name}: hosts {sorted(map(str, hosts - covered))} without a TLS Secret"]
    return []


def _timeout_problems(ingress: Manifest) -> list[str]:
    annotations = _annotations(ingress)
    return [
        f"{ingress['metadata']['name']}: {key.removeprefix(NGINX)} below {STREAM_SECONDS:.0f} s"
        for key in TIMEOUTS
        if float(annotations.get(key, "60")) < STREAM_SECONDS
    ]


def check_edge(manifests: list[Manifest], overlay: str) -> list[str]:
    """Return what keeps gRPC streams or server-sent events from reaching the gateway."""
    problems: list[str] = []
    ingresses = [m for m in manifests if m["kind"] == "Ingress"]
    grpc = [i for i in ingresses if _annotations(i).get(f"{NGINX}backend-protocol") == "GRPC"]
    if not grpc:
        problems.append("no Ingress with backend-protocol GRPC")
    for ingress in grpc:
        name = ingress["metadata"]["name"]
        if _backends(ingress) != {("gateway", "grpc")}:
            problems.append(f"{name}: routes to {sorted(_backends(ingress))}, not gateway:grpc")
        if _annotations(ingress).get(f"{NGINX}proxy-body-size") != "0":
            problems.append(f"{name}: a body size cap ends long streams")
        problems += _tls_problems(ingress) + _timeout_problems(ingress)
    events = [
        i for i in ingresses
        for rule in i["spec"].get("rules") or [] for path in rule["http"]["paths"]
        if path["path"] == EVENTS_PATH
    ]
    if not events:
        problems.append(f"no Ingress path {EVENTS_PATH}")
    for ingress in events:
        name = ingress["metadata"]["name"]
        if _annotations(ingress).get(f"{NGINX}proxy-buffering") != "off":
            problems.append(f"{name}: responses buffered, events held back")
        if _backends(ingress) != {("gateway", "http")}:
            problems.append(f"{name}: routes to {sorted(_backends(ingress))}, not gateway:http")
        problems += _timeout_problems(ingress)
        if overlay == "prod":
            problems += _tls_problems(ingress)
    service = find(manifests, "Service", "gateway")
    if service is None or "grpc" not in {p["name"] for p in service["spec"]["ports"]}:
        problems.append("the gateway Service has no grpc port")
    return problems


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_routes_grpc_streams_and_events(overlay: str) -> None:
    assert check_edge(rendered(overlay), overlay) == []


def _ingress(manifests: list[Manifest], name: str) -> dict[str, Any]:
    found = find(manifests, "Ingress", name)
    assert found is not None
    return found


BROKEN: list[tuple[str, Callable[[list[Manifest]], None], str]] = [
    ("body-cap", lambda m: _annotations(_ingress(m, "gateway-grpc")).pop(f"{NGINX}proxy-body-size"),
     "gateway-grpc: a body size cap ends long streams"),
    ("short-timeout", lambda m: _annotations(_ingress(m, "gateway-grpc")).update(
        {TIMEOUTS[0]: "60"}), "gateway-grpc: proxy-read-timeout below 3600 s"),
    ("no-tls", lambda m: _ingress(m, "gateway-grpc")["spec"].pop("tls"),
     "gateway-grpc: hosts ['crm-grpc.example.com'] without a TLS Secret"),
    ("plain-backend", lambda m: _annotations(_ingress(m, "gateway-grpc")).pop(
        f"{NGINX}backend-protocol"), "no Ingress with backend-protocol GRPC"),
    ("buffered-events", lambda m: _annotations(_ingress(m, "gateway-events")).pop(
        f"{NGINX}proxy-buffering"), "gateway-events: responses buffered, events held back"),
    ("events-without-tls", lambda m: _ingress(m, "gateway-events")["spec"].pop("tls"),
     "gateway-events: hosts ['crm-api.example.com'] without a TLS Secret"),
]


@pytest.mark.parametrize(("mutate", "expected"), [(m, e) for _, m, e in BROKEN],
                         ids=[name for name, _, _ in BROKEN])
def test_a_broken_edge_is_reported(mutate: Callable[[list[Manifest]], None],
                                   expected: str) -> None:
    manifests = copy.deepcopy(rendered("prod"))
    mutate(manifests)
    assert expected in check_edge(manifests, "prod")
