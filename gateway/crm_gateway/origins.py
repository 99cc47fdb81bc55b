"""The caller's client address, the same on both faces, and a fingerprint of its credential.

Behind an ingress every call arrives from the ingress's address, so counting failed logins per
peer address let one noisy client lock out the whole bank. The real client address is read
from a configured header (X-Forwarded-For) but only when the peer is a configured proxy; from
anyone else the header is a caller's claim and is ignored. gRPC and HTTP yield the same form
("10.0.0.7"), so a client's failures count once whichever face it uses.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def peer_address(peer: str) -> str:
    """Return the bare address of a gRPC peer ("ipv4:10.0.0.7:5000" → "10.0.0.7")."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]").split("%")[0]
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    return peer


def credential_fingerprint(authorization: str, api_key: str) -> str:
    """Return a short hash naming a presented credential (never the credential itself)."""
    digest = hashlib.sha256(f"{authorization}\0{api_key}".encode()).hexdigest()
    return digest[:32]


class ClientAddresses:
    """Works out a call's client address from its peer and the trusted proxy header."""

    def __init__(self, header: str = "", trusted_proxies: Iterable[str] = ()) -> None:
        self.header = header.strip().lower()
        self._proxies: tuple[Network, ...] = tuple(
            ipaddress.ip_network(cidr.strip(), strict=False)
            for cidr in trusted_proxies
            if cidr.strip()
        )

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._proxies)

    def resolve(self, peer: str, forwarded: str) -> str:
        """Return the client address: the peer's, or the nearest untrusted hop of `forwarded`
        when the peer is a trusted proxy (hops further left are the client's own claims)."""
        if not self.header or not forwarded or not self._trusted(peer):
            return peer
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self._trusted(hop):
                try:
                    return str(ipaddress.ip_address(hop))
                except ValueError:
                    return peer  # A malformed hop: count the call against the proxy.
        return hops[0] if hops else peer
