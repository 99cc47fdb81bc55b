"""Evaluate Kubernetes NetworkPolicies: may this pod open that connection?

The manifest tests ask the rendered policies about concrete flows instead of grepping them,
so "only the listed flows are open" is checked for every pair of workloads. Semantics follow
the NetworkPolicy API: a pod selected by any policy of a direction is isolated in that
direction; a connection needs the source's egress and the destination's ingress to allow it;
rules are OR-ed; a missing `from`/`to` or `ports` means "any".

Limits: `ipBlock` peers never match pods (pod IPs are private here and every ipBlock must
exclude the private ranges, which `ip_block_problems` checks); a named port is resolved on
the destination pod only; SCTP and `endPort` ranges are handled like kube-proxy does,
but no CNI-specific extension is modelled.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

Labels = dict[str, str]

# Ranges an egress ipBlock to "the internet" must exclude so it cannot reach the cluster,
# the bank's private network or cloud metadata endpoints.
REQUIRED_IPV4_EXCEPTIONS = (
    "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.168.0.0/16",
)
REQUIRED_IPV6_EXCEPTIONS = ("fc00::/7", "fe80::/10")


@dataclass(frozen=True)
class Endpoint:
    """One side of a connection: a pod by its labels, in a namespace by its labels."""

    namespace: str
    labels: Labels
    namespace_labels: Labels = field(default_factory=dict)
    # Container port name -> number, used to resolve named ports in policies.
    named_ports: dict[str, int] = field(default_factory=dict)

    def all_namespace_labels(self) -> Labels:
        """Return the namespace's labels including the one Kubernetes sets automatically."""
        return {**self.namespace_labels, "kubernetes.io/metadata.name": self.namespace}


def selector_matches(selector: dict[str, Any] | None, labels: Labels) -> bool:
    """Return whether a label selector matches; an empty selector matches everything."""
    if selector is None:
        return True
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    return all(_expression_matches(e, labels) for e in selector.get("matchExpressions") or [])


def _expression_matches(expression: dict[str, Any], labels: Labels) -> bool:
    key, operator = expression["key"], expression["operator"]
    values = set(expression.get("values") or [])
    outcomes = {
        "In": key in labels and labels[key] in values,
        "NotIn": not (key in labels and labels[key] in values),
        "Exists": key in labels,
        "DoesNotExist": key not in labels,
    }
    return outcomes[operator]


def policy_types(policy: dict[str, Any]) -> set[str]:
    """Return the directions a policy isolates, with the API's defaults applied."""
    spec = policy.get("spec") or {}
    declared = spec.get("policyTypes")
    if declared:
        return set(declared)
    return {"Ingress", "Egress"} if "egress" in spec else {"Ingress"}


def policy_selects(policy: dict[str, Any], pod: Endpoint) -> bool:
    """Return whether a policy applies to a pod."""
    return policy["metadata"].get("namespace") == pod.namespace and selector_matches(
        (policy.get("spec") or {}).get("podSelector") or {}, pod.labels
    )


def _peer_matches(peer: dict[str, Any], policy_namespace: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        return False
    if "namespaceSelector" in peer:
        if not selector_matches(peer["namespaceSelector"], other.all_namespace_labels()):
            return False
    elif other.namespace != policy_namespace:
        return False
    return selector_matches(peer.get("podSelector"), other.labels)


def _port_matches(rule_ports: list[dict[str, Any]] | None, port: int, protocol: str,
                  destination: Endpoint) -> bool:
    if not rule_ports:
        return True
    for rule_port in rule_ports:
        if rule_port.get("protocol", "TCP") != protocol:
            continue
        wanted = rule_port.get("port")
        if wanted is None:
            return True
        if isinstance(wanted, str):
            wanted = destination.named_ports.get(wanted)
            if wanted is None:
                continue
        if wanted <= port <= int(rule_port.get("endPort", wanted)):
            return True
    return False


def _direction_allows(policies: list[dict[str, Any]], pod: Endpoint, other: Endpoint, *,
                      direction: str, port: int, protocol: str, destination: Endpoint) -> bool:
    relevant = [p for p in policies if policy_selects(p, pod) and direction in policy_types(p)]
    if not relevant:
        return True  # Not isolated in this direction.
    rules_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in relevant:
        namespace = policy["metadata"]["namespace"]
        for rule in (policy.get("spec") or {}).get(rules_key) or []:
            peers = rule.get(peers_key)
            peer_ok = not peers or any(_peer_matches(p, namespace, other) for p in peers)
            if peer_ok and _port_matches(rule.get("ports"), port, protocol, destination):
                return True
    return False


def connection_allowed(policies: list[dict[str, Any]], source: Endpoint, destination: Endpoint,
                       port: int, protocol: str = "TCP") -> bool:
    """Return whether `source` may connect to `destination` on `port` under `policies`."""
    return egress_allowed(policies, source, destination, port, protocol) and _direction_allows(
        policies, destination, source,
        direction="Ingress", port=port, protocol=protocol, destination=destination,
    )


def egress_allowed(policies: list[dict[str, Any]], source: Endpoint, destination: Endpoint,
                   port: int, protocol: str = "TCP") -> bool:
    """Return whether `source`'s own policies let it connect out to `destination`."""
    return _direction_allows(
        policies, source, destination,
        direction="Egress", port=port, protocol=protocol, destination=destination,
    )


def ip_block_problems(policies: list[dict[str, Any]]) -> list[str]:
    """Return problems with egress ipBlocks: each must exclude every private range."""
    problems: list[str] = []
    for policy in policies:
        name = policy["metadata"]["name"]
        for rule in (policy.get("spec") or {}).get("egress") or []:
            for peer in rule.get("to") or []:
                block = peer.get("ipBlock")
                if block is None:
                    continue
                network = ipaddress.ip_network(block["cidr"])
                required = (REQUIRED_IPV4_EXCEPTIONS if network.version == 4
                            else REQUIRED_IPV6_EXCEPTIONS)
                excepted = {ipaddress.ip_network(c) for c in block.get("except") or []}
                for private in map(ipaddress.ip_network, required):
                    overlaps = network.overlaps(private)  # type: ignore[arg-type]
                    covered = any(private.subnet_of(e) for e in excepted  # type: ignore[arg-type]
                                  if e.version == private.version)
                    if overlaps and not covered:
                        problems.append(
                            f"NetworkPolicy {name}: ipBlock {network} reaches {private}"
                        )
                if not rule.get("ports"):
                    problems.append(f"NetworkPolicy {name}: ipBlock {network} on every port")
    return problems
