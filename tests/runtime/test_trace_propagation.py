"""Trace context crosses the gRPC call and the outbox: one trace id from caller to consumer."""

from __future__ import annotations

import asyncio

from client_harness import client_service, create_request
from event_probe import start_probe
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from crm.client.v1 import client_service_pb2_grpc
from crm_runtime.channels import open_channel
from crm_runtime.telemetry import configure_telemetry
from crm_runtime.testing import free_port


class TestTracePropagation:
    async def test_client_call_service_and_consumer_share_trace(self, tmp_path, identity):
        """Spans of the client service and of the event consumer carry the caller's trace id."""
        exporter = InMemorySpanExporter()
        configure_telemetry("tests", extra_processors=(SimpleSpanProcessor(exporter),))
        probe_port = free_port()
        probe = await start_probe(tmp_path, probe_port, identity.directory)
        url = f"sqlite+aiosqlite:///{tmp_path}/client.db"
        try:
            async with client_service(
                url,
                identity,
                subscribers=f"probe=127.0.0.1:{probe_port}",
                relay_interval_seconds=0.05,
            ) as h:
                channel = open_channel(h.running.address)
                stub = client_service_pb2_grpc.ClientServiceStub(channel)
                tracer = trace.get_tracer("tests")
                with tracer.start_as_current_span("bank-system-onboarding") as root:
                    await stub.CreateClient(create_request(), metadata=h.rm())
                trace_id = root.get_span_context().trace_id
                await channel.close()
                for _ in range(100):
                    if await probe.effects():
                        break
                    await asyncio.sleep(0.05)
        finally:
            await probe.stop()
        spans = [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]
        names = {s.name for s in spans}
        assert "/crm.client.v1.ClientService/CreateClient" in names
        assert "apply crm.events.v1.ClientCreated" in names
        server_span = next(
            s for s in spans if s.name.endswith("/CreateClient") and s.kind == trace.SpanKind.SERVER
        )
        assert server_span.resource.attributes["service.name"].startswith("crm-")
