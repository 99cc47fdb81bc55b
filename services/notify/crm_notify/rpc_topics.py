"""Topic and subscription RPCs for information push."""

from __future__ import annotations

import uuid

import grpc
from google.protobuf import empty_pb2
from sqlalchemy import select
from sqlmodel import col

from crm.notify.v1 import notify_pb2, notify_service_pb2
from crm_notify import access
from crm_notify.context import NotifyContext
from crm_notify.mapping import TOPIC_KIND_ENUMS, TOPIC_KIND_NAMES, timestamp
from crm_notify.models import SubscriptionRow, TopicRow
from crm_notify.names import (
    SUBSCRIPTION_NAME_RE,
    TOPIC_NAME_RE,
    Violations,
    check_resource_id,
    parse_name,
    require_recipient,
)
from crm_runtime import idempotency
from crm_runtime.auth import current_principal, require_roles
from crm_runtime.errors import AlreadyExists, NotFound
from crm_runtime.pagination import page_size

_SERVICE = "crm.notify.v1.NotificationService/"


def topic_message(row: TopicRow) -> notify_pb2.Topic:
    """Return the Topic for a row."""
    return notify_pb2.Topic(
        name=f"topics/{row.topic_id}",
        display_name=row.display_name,
        kind=TOPIC_KIND_ENUMS[row.kind],
        description=row.description,
        create_time=timestamp(row.create_time),
    )


def subscription_message(row: SubscriptionRow) -> notify_pb2.Subscription:
    """Return the Subscription for a row."""
    return notify_pb2.Subscription(
        name=f"topics/{row.topic_id}/subscriptions/{row.id}",
        recipient=row.recipient,
        create_time=timestamp(row.create_time),
    )


class TopicsRpc:
    """Topics and subscriptions."""

    ctx: NotifyContext

    async def CreateTopic(  # noqa: N802
        self, request: notify_service_pb2.CreateTopicRequest, context: grpc.aio.ServicerContext
    ) -> notify_pb2.Topic:
        """Create a topic."""
        principal = require_roles(*access.TOPIC_ADMIN_ROLES)
        idempotency.check_request_id(request.request_id)
        v = Violations()
        check_resource_id(v, "topic_id", request.topic_id)
        if not request.topic.display_name.strip():
            v.add("topic.display_name", "is required")
        if request.topic.kind not in TOPIC_KIND_NAMES:
            v.add("topic.kind", "is required")
        v.raise_if_any()
        method = _SERVICE + "CreateTopic"
        async with self.ctx.db.write() as session:
            replay = await idempotency.replay(
                session,
                method=method,
                request=request,
                subject=principal.subject,
                response_type=notify_pb2.Topic,
            )
            if replay is not None:
                return replay
            if await session.get(TopicRow, request.topic_id) is not None:
                raise AlreadyExists(f"topics/{request.topic_id} exists", reason="TOPIC_EXISTS")
            row = TopicRow(
                topic_id=request.topic_id,
                display_name=request.topic.display_name,
                kind=TOPIC_KIND_NAMES[request.topic.kind],
                description=request.topic.description,
                create_time=self.ctx.clock(),
            )
            session.add(row)
            response = topic_message(row)
            await idempotency.remember(
                session,
                method=method,
                request=request,
                subject=principal.subject,
                response=response,
            )
            return response

    async def ListTopics(  # noqa: N802
        self, request: notify_service_pb2.ListTopicsRequest, context: grpc.aio.ServicerContext
    ) -> notify_service_pb2.ListTopicsResponse:
        """Return topics by name."""
        current_principal()
        size = page_size(request.page_size)
        query = {"m": "ListTopics"}
        after = str(self.ctx.tokens.decode(request.page_token, query=query) or "")
        async with self.ctx.db.read() as session:
            rows = list(
                (
                    await session.execute(
                        select(TopicRow)
                        .where(col(TopicRow.topic_id) > after)
                        .order_by(col(TopicRow.topic_id))
                        .limit(size + 1)
                    )
                ).scalars()
            )
        response = notify_service_pb2.ListTopicsResponse(
            topics=[topic_message(r) for r in rows[:size]]
        )
        if len(rows) > size:
            response.next_page_token = self.ctx.tokens.encode(rows[size - 1].topic_id, query=query)
        return response

    async def CreateSubscription(  # noqa: N802
        self,
        request: notify_service_pb2.CreateSubscriptionRequest,
        context: grpc.aio.ServicerContext,
    ) -> notify_pb2.Subscription:
        """Subscribe a recipient; subscribing twice returns the existing subscription."""
        principal = current_principal()
        topic_id = parse_name(request.parent, TOPIC_NAME_RE, "parent")
        recipient = request.subscription.recipient
        require_recipient("subscription.recipient", recipient)
        access.require_act_for(principal, recipient)
        async with self.ctx.db.write() as session:
            if await session.get(TopicRow, topic_id) is None:
                raise NotFound(f"{request.parent} does not exist", reason="TOPIC_NOT_FOUND")
            existing = (
                (
                    await session.execute(
                        select(SubscriptionRow).where(
                            col(SubscriptionRow.topic_id) == topic_id,
                            col(SubscriptionRow.recipient) == recipient,
                        )
                    )
                )
                .scalars()
                .first()
            )
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
        topic_id = parse_name(request.parent, TOPIC_NAME_RE, "parent")
        size = page_size(request.page_size)
        query = {"m": "ListSubscriptions", "t": topic_id, "p": principal.subject}
        after = self.ctx.tokens.decode(request.page_token, query=query) or 0
        statement = select(SubscriptionRow).where(
            col(SubscriptionRow.topic_id) == topic_id, col(SubscriptionRow.seq) > after
        )
        if not principal.has(*access.READ_ALL_ROLES):
            statement = statement.where(col(SubscriptionRow.recipient) == principal.subject)
        async with self.ctx.db.read() as session:
            rows = list(
                (
                    await session.execute(
                        statement.order_by(col(SubscriptionRow.seq)).limit(size + 1)
                    )
                ).scalars()
            )
        response = notify_service_pb2.ListSubscriptionsResponse(
            subscriptions=[subscription_message(r) for r in rows[:size]]
        )
        if len(rows) > size:
            response.next_page_token = self.ctx.tokens.encode(rows[size - 1].seq, query=query)
        return response

    async def DeleteSubscription(  # noqa: N802
        self,
        request: notify_service_pb2.DeleteSubscriptionRequest,
        context: grpc.aio.ServicerContext,
    ) -> empty_pb2.Empty:
        """Remove a subscription."""
        principal = current_principal()
        match = SUBSCRIPTION_NAME_RE.match(request.name)
        if match is None:
            parse_name(request.name, SUBSCRIPTION_NAME_RE, "name")
        assert match is not None
        async with self.ctx.db.write() as session:
            row = (
                (
                    await session.execute(
                        select(SubscriptionRow).where(col(SubscriptionRow.id) == match.group(2))
                    )
                )
                .scalars()
                .first()
            )
            if row is None or row.topic_id != match.group(1):
                # People get the same answer as for someone else's subscription (no oracle).
                if principal.has(*access.ANY_RECIPIENT_ROLES):
                    raise NotFound(
                        f"{request.name} does not exist", reason="SUBSCRIPTION_NOT_FOUND"
                    )
                raise access.recipient_denied()
            access.require_act_for(principal, row.recipient)
            await session.delete(row)
        return empty_pb2.Empty()
