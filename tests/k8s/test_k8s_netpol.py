"""The NetworkPolicy evaluator follows the API's semantics on small hand-made policies."""

from __future__ import annotations

from typing import Any

import pytest
from k8s_netpol import Endpoint, connection_allowed, ip_block_problems, selector_matches

WEB = Endpoint("app", {"name": "web"}, named_ports={"grpc": 50051})
API = Endpoint("app", {"name": "api"}, named_ports={"grpc": 50051})
OUTSIDER = Endpoint("other", {"name": "web"}, {"team": "x"})


def netpol(name: str, selector: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """Return a NetworkPolicy in namespace app."""
    return {"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": "app"},
            "spec": {"podSelector": selector, **spec}}


DENY_ALL = netpol("deny", {}, policyTypes=["Ingress", "Egress"])
WEB_TO_API = [
    netpol("web-out", {"matchLabels": {"name": "web"}}, policyTypes=["Egress"],
           egress=[{"to": [{"podSelector": {"matchLabels": {"name": "api"}}}],
                    "ports": [{"port": 50051}]}]),
    netpol("api-in", {"matchLabels": {"name": "api"}}, policyTypes=["Ingress"],
           ingress=[{"from": [{"podSelector": {"matchLabels": {"name": "web"}}}],
                     "ports": [{"port": "grpc"}]}]),
]


class TestSemantics:
    """Isolation, both directions, ports and namespaces."""

    def test_unisolated_pods_talk_freely(self) -> None:
        """Without policies every connection is allowed."""
        assert connection_allowed([], WEB, API, 1234)

    def test_default_deny_blocks(self) -> None:
        """A default-deny policy isolates both directions."""
        assert not connection_allowed([DENY_ALL], WEB, API, 50051)

    def test_flow_needs_egress_and_ingress(self) -> None:
        """Only the allowed direction, port and peer pass; a named port resolves."""
        policies = [DENY_ALL, *WEB_TO_API]
        assert connection_allowed(policies, WEB, API, 50051)
        assert not connection_allowed(policies, API, WEB, 50051)
        assert not connection_allowed(policies, WEB, API, 8080)
        assert not connection_allowed([DENY_ALL, WEB_TO_API[1]], WEB, API, 50051)

    def test_pod_selector_alone_means_same_namespace(self) -> None:
        """A podSelector peer without namespaceSelector never matches another namespace."""
        assert not connection_allowed([DENY_ALL, *WEB_TO_API], OUTSIDER, API, 50051)

    def test_policy_types_default_from_sections(self) -> None:
        """Without policyTypes, an egress section makes the policy isolate egress too."""
        only_ingress = netpol("i", {}, ingress=[])
        with_egress = netpol("e", {}, egress=[])
        assert connection_allowed([only_ingress], WEB, OUTSIDER, 443)
        assert not connection_allowed([with_egress], WEB, OUTSIDER, 443)


class TestSelectors:
    """Label selector operators."""

    @pytest.mark.parametrize(("selector", "expected"), [
        ({}, True),
        ({"matchLabels": {"name": "web"}}, True),
        ({"matchLabels": {"name": "api"}}, False),
        ({"matchExpressions": [{"key": "name", "operator": "In", "values": ["web"]}]}, True),
        ({"matchExpressions": [{"key": "name", "operator": "NotIn", "values": ["web"]}]}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, True),
    ])
    def test_operators(self, selector: dict[str, Any], expected: bool) -> None:
        """Each operator matches as the API defines it."""
        assert selector_matches(selector, {"name": "web"}) is expected


class TestIpBlocks:
    """Internet egress must exclude private ranges and name its ports."""

    def test_complete_exceptions_pass(self) -> None:
        """0.0.0.0/0 minus every private range, on fixed ports, is accepted."""
        block = {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
                                                 "169.254.0.0/16", "172.16.0.0/12",
                                                 "192.168.0.0/16"]}
        policy = netpol("p", {}, egress=[{"to": [{"ipBlock": block}], "ports": [{"port": 443}]}])
        assert ip_block_problems([policy]) == []

    def test_missing_exception_and_ports_fail(self) -> None:
        """Reaching cloud metadata or allowing every port is reported."""
        block = {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}
        policy = netpol("p", {}, egress=[{"to": [{"ipBlock": block}]}])
        problems = ip_block_problems([policy])
        assert any("169.254.0.0/16" in p for p in problems)
        assert any("every port" in p for p in problems)
