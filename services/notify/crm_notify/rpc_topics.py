"""Topic and subscription RPCs for information push."""

from __future__ import annotations

import uuid

import grpc
from google.protobuf import empty_pb2
from sqlalchemy.ext.asyncio import AsyncSession

from crm.notify.v1 import notify_service_pb2, topic_pb2
from crm_notify import access
from crm_notify.context import NotifyContext
from crm_notify.mapping import TOPIC_KIND_ENUMS, TOPIC_KIND_NAMES, timestamp
from crm_notify.models import SubscriptionRow, TopicRow
from crm_notify.names import Violations, check_resource_id, require_recipient
from crm_notify.topics_store import (
    subscription_by_id,
    subscription_of,
    subscriptions_page,
    topic_exists,
    topics_page,
)
from crm_runtime import idempotency, names
from crm_runtime.auth import current_principal, require_roles
from crm_runtime.errors import AlreadyExists, NotFound
from crm_runtime.pagination import page_size

_SERVICE = "crm.notify.v1.NotificationService/"


def topic_message(row: TopicRow) -> topic_pb2.Topic:
    """Return the Topic for a row."""
    return topic_pb2.Topic(
        name=f"topics/{row.topic_id}",
        display_name=row.display_name,
        kind=TOPIC_KIND_ENUMS[row.kind],
        description=row.description,
        create_time=timestamp(row.create_time),
    )


def subscription_message(row: SubscriptionRow) -> topic_pb2.Subscription:
    """Return the Subscription for a row."""
    return topic_pb2.Subscription(
        name=f"topics/{row.topic_id}/subscriptions/{row.id}",
        recipient=row.recipient,
        create_time=timestamp(row.create_time),
    )


class TopicsRpc:
    """Topics and subscriptions."""

    ctx: NotifyContext

    async def CreateTopic(  # noqa: N802
        self, request: notify_service_pb2.CreateTopicRequest, context: grpc.aio.ServicerContext
    ) -> topic_pb2.Topic:
        """Create a topic."""
        principal = require_roles(*access.TOPIC_ADMIN_ROLES)
        v = Violations()
        check_resource_id(v, "topic_id", request.topic_id)
        if not request.topic.display_name.strip():
            v.add("topic.display_name", "is required")
        if request.topic.kind not in TOPIC_KIND_NAMES:
            v.add("topic.kind", "is required")
        v.raise_if_any()
        now = self.ctx.clock()

        async def work(session: AsyncSession) -> topic_pb2.Topic:
            if await topic_exists(session, request.topic_id):
                raise AlreadyExists(f"topics/{request.topic_id} exists", reason="TOPIC_EXISTS")
            row = TopicRow(
                topic_id=request.topic_id,
                display_name=request.topic.display_name,
                kind=TOPIC_KIND_NAMES[request.topic.kind],
                description=request.topic.description,
                create_time=now,
            )
            session.add(row)
            return topic_message(row)

        return await idempotency.mutation(
            self.ctx.db,
            request,
            method=_SERVICE + "CreateTopic",
            subject=principal.subject,
            response_type=topic_pb2.Topic,
            work=work,
        )

    async def ListTopics(  # noqa: N802
        self, request: notify_service_pb2.ListTopicsRequest, context: grpc.aio.ServicerContext
    ) -> notify_service_pb2.ListTopicsResponse:
        """Return topics by name."""
        current_principal()
        async with self.ctx.db.read() as session:
            page = await topics_page(
                session,
                tokens=self.ctx.tokens,
                page_token=request.page_token,
                size=page_size(request.page_size),
                query={"m": "ListTopics"},
            )
        return notify_service_pb2.ListTopicsResponse(
            topics=[topic_message(r) for r in page.rows], next_page_token=page.next_page_token
        )

    async def CreateSubscription(  # noqa: N802
        self,
        request: notify_service_pb2.CreateSubscriptionRequest,
        context: grpc.aio.ServicerContext,
    ) -> topic_pb2.Subscription:
        """Subscribe a recipient; subscribing twice returns the existing subscription."""
        principal = current_principal()
        topic_id = names.parse(request, "parent")["topic"]
        recipient = request.subscription.recipient
        require_recipient("subscription.recipient", recipient)
        access.require_act_for(principal, recipient)
        async with self.ctx.db.write() as session:
            if not await topic_exists(session, topic_id):
                raise NotFound(f"{request.parent} does not exist", reason="TOPIC_NOT_FOUND")
            existing = await subscription_of(session, topic_id, recipient)
            if existing is not None:
                return subscription_message(existing)
            row = SubscriptionRow(
                id=uuid.uuid4().hex,
                topic_id=topic_id,
                recipient=recipient,
                create_time=self.ctx.clock(),
            )
            session.add(row)
            return subscription_message(row)

    async def ListSubscriptions(  # noqa: N802
        self,
        request: notify_service_pb2.ListSubscriptionsRequest,
        context: grpc.aio.ServicerContext,
    ) -> notify_service_pb2.ListSubscriptionsResponse:
        """Return a topic's subscriptions (all for operators, one's own for people)."""
        principal = current_principal()
        topic_id = names.parse(request, "parent")["topic"]
        async with self.ctx.db.read() as session:
            page = await subscriptions_page(
                session,
                topic_id,
                # People see only their own subscriptions.
                recipient="" if principal.has(*access.READ_ALL_ROLES) else principal.subject,
                tokens=self.ctx.tokens,
                page_token=request.page_token,
                size=page_size(request.page_size),
                query={"m": "ListSubscriptions", "t": topic_id, "p": principal.subject},
            )
        return notify_service_pb2.ListSubscriptionsResponse(
            subscriptions=[subscription_message(r) for r in page.rows],
            next_page_token=page.next_page_token,
        )

    async def DeleteSubscription(  # noqa: N802
        self,
        request: notify_service_pb2.DeleteSubscriptionRequest,
        context: grpc.aio.ServicerContext,
    ) -> empty_pb2.Empty:
        """Remove a subscription."""
        principal = current_principal()
        ids = names.parse(request, "name")
        async with self.ctx.db.write() as session:
            row = await subscription_by_id(session, ids["topic"], ids["subscription"])
            if row is None:
                # People get the same answer as for someone else's subscription (no oracle).
                if principal.has(*access.ANY_RECIPIENT_ROLES):
                    raise NotFound(
                        f"{request.name} does not exist", reason="SUBSCRIPTION_NOT_FOUND"
                    )
                raise access.recipient_denied()
            access.require_act_for(principal, row.recipient)
            await session.delete(row)
        return empty_pb2.Empty()
