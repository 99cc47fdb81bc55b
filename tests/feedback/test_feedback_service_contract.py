"""Contract of the feedback service: health, reflection, identity, settings, schema."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from feedback_harness import feedback_service
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from pydantic import ValidationError
from sqlalchemy import inspect

from crm.feedback.v1 import feedback_service_pb2
from crm_feedback.config import FeedbackSettings
from crm_feedback.models import FEEDBACK_TABLES


class TestHealthAndReflection:
    async def test_feedback_service_reports_serving(self, sqlite_url, identity):
        """Health answers SERVING for crm.feedback.v1.FeedbackService (the k8s probe name)."""
        async with feedback_service(sqlite_url, identity) as h:
            stub = health_pb2_grpc.HealthStub(h.channel)
            for name in ("", "crm.feedback.v1.FeedbackService", "crm.events.v1.EventSinkService"):
                for _ in range(50):
                    reply = await stub.Check(health_pb2.HealthCheckRequest(service=name))
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        break
                    await asyncio.sleep(0.05)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING, name

    async def test_reflection_lists_feedback_service(self, sqlite_url, identity):
        """Reflection lists the feedback service and the event sink."""
        async with feedback_service(sqlite_url, identity) as h:
            stub = reflection_pb2_grpc.ServerReflectionStub(h.channel)
            request = reflection_pb2.ServerReflectionRequest(list_services="")
            names: list[str] = []
            async for reply in stub.ServerReflectionInfo(iter([request])):
                names = [s.name for s in reply.list_services_response.service]
            assert "crm.feedback.v1.FeedbackService" in names
            assert "crm.events.v1.EventSinkService" in names


class TestIdentity:
    async def test_call_without_identity_is_unauthenticated(self, sqlite_url, identity):
        """A call without an identity token is UNAUTHENTICATED."""
        async with feedback_service(sqlite_url, identity) as h:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.ListSurveys(feedback_service_pb2.ListSurveysRequest())
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


class TestSettingsAndSchema:
    def test_answer_secret_is_mandatory(self):
        """Without ANSWER_TOKEN_SECRET (or with a short one) the settings refuse to load."""
        with pytest.raises(ValidationError):
            FeedbackSettings(answer_token_secret="")
        with pytest.raises(ValidationError):
            FeedbackSettings(answer_token_secret="c2hvcnQ=")

    async def test_migration_creates_every_table(self, store_url, identity):
        """The first migration creates every feedback table and the runtime's tables."""
        async with feedback_service(store_url, identity) as h:
            async with h.ctx.db.write_engine.connect() as conn:
                names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
            assert set(FEEDBACK_TABLES) | {"outbox_message", "inbox_message"} <= set(names)
