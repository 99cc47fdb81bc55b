"""Event tests on both transports: the settings a producer needs to reach the probe consumer.

On gRPC the producer pushes to the probe's EventSinkService (one outbox row per subscriber,
"probe"); on NATS it publishes to a private JetStream server the probe reads with its durable
consumer (one outbox row per event, "jetstream").
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from crm_runtime.jetstream import JETSTREAM_SUBSCRIBER


@dataclass(frozen=True)
class TransportUnderTest:
    """The producer environment, the outbox rows' subscriber and the probe's NATS URL."""

    env: dict[str, str]
    queue: str
    nats_url: str


def transport_for(
    transport: str, request: pytest.FixtureRequest, probe_port: int
) -> TransportUnderTest:
    """Return how a producer reaches the probe on `transport` ("grpc" or "nats")."""
    if transport == "grpc":
        return TransportUnderTest(
            {"EVENT_SUBSCRIBERS": f"probe=127.0.0.1:{probe_port}"}, "probe", ""
        )
    server = request.getfixturevalue("nats_server")
    return TransportUnderTest(
        {"EVENT_TRANSPORT": "nats", "NATS_URL": server.url}, JETSTREAM_SUBSCRIBER, server.url
    )
