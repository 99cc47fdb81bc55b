"""Database client spans: one per statement of a sampled call, none otherwise."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind
from sqlalchemy import text

from crm_runtime.db import Database
from crm_runtime.dbtracing import trace_statements


async def test_statements_of_sampled_calls_get_spans_and_others_none(tmp_path: Path):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    unsampled = TracerProvider(sampler=ALWAYS_OFF).get_tracer("test")
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/spans.db")
    try:
        trace_statements((database.write_engine, database.read_engine), tracer_provider=provider)
        async with database.write() as session:  # outside any call: a background loop
            await session.execute(text("CREATE TABLE t (x INTEGER)"))
        with unsampled.start_as_current_span("unsampled call"):
            async with database.read() as session:
                await session.execute(text("SELECT count(*) FROM t"))
        assert exporter.get_finished_spans() == ()

        with provider.get_tracer("test").start_as_current_span("sampled call") as call:
            async with database.write() as session:
                await session.execute(text("INSERT INTO t (x) VALUES (1)"))
            async with database.read() as session:
                await session.execute(text("SELECT x FROM t"))
        spans = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT]
        statements = [str(s.attributes.get("db.statement", "")) for s in spans]
        assert any(st.startswith("INSERT INTO t") for st in statements), statements
        assert any(st.startswith("SELECT x FROM t") for st in statements), statements
        assert all(s.parent is not None and s.parent.span_id == call.get_span_context().span_id
                   for s in spans)
        assert {s.attributes.get("db.system") for s in spans} == {"sqlite"}
    finally:
        await database.dispose()
