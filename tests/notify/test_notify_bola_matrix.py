"""BOLA matrix (RELIABILITY §7.17): every RPC of NotificationService, generated from its descriptor.

Ownership model (crm_notify/access.py, docs/NOTIFY.md): a person acts only for themselves.
Messages, push streams and acknowledgements, preferences, task inboxes and subscriptions belong
to their recipient (`staff/{id}` for an RM); alerts belong to their owner. Templates, topics and
campaigns are bank-wide and managed by operations and bank systems.

The scaffolding and what the matrix asserts are in bola_support. Here: the fields that name a
person-owned resource (`recipient`, `assignee`, `owner`, `<item>.recipient` in a cursor,
acknowledgement or subscription, then `name`, `parent`, or `<resource>.name` in an update)
make a method object-scoped; methods an RM may not call at all are classified function-level
and must refuse RM A by role. Lists are checked for B's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import grpc
import pytest
from bola_support import (
    Outcome,
    assert_refused_by_role,
    build_request,
    call,
    check_classified,
    denied,
    nested_field,
    run_matrix,
    string_field,
)
from bola_support import resource_field as named_field
from bola_support import scoped_methods as scoped_in
from google.protobuf import field_mask_pb2, message, timestamp_pb2
from notify_harness import RM_A, RM_B, notify_service

from crm.events.v1 import client_events_pb2, risk_events_pb2
from crm.notify.v1 import campaign_pb2, common_pb2, notify_service_pb2, preference_pb2, topic_pb2
from crm_runtime.auth import Role

SERVICE = notify_service_pb2.DESCRIPTOR.services_by_name["NotificationService"]
# Fields that name a person; checked first, top level then inside a nested message.
PERSON_FIELDS = ("recipient", "assignee", "owner")
TEMPLATE = "templates/bola-notice"
TOPIC = "topics/bola-news"
ZERO = "0" * 32
CLIENTS = {RM_A: "clients/" + "a" * 32, RM_B: "clients/" + "b" * 32}

# Methods whose request names no person-owned resource, each with the reason it is safe.
NOT_OBJECT_SCOPED = {
    "GetTemplate": "templates are bank-wide text, readable by every caller",
    "ListTemplates": "templates are bank-wide text, readable by every caller",
    "RenderTemplate": "preview of a bank-wide template with the caller's values; sends nothing",
    "ListTopics": "topics are bank-wide",
    "ListSubscriptions": "a list: checked below for B's rows",
}
# Methods an RM may not call at all (function-level rule): RM A must be refused by role.
FUNCTION_LEVEL = {
    "CreateTemplate": "templates are bank-wide: operations and bank systems only",
    "UpdateTemplate": "templates are bank-wide: operations and bank systems only",
    "DeleteTemplate": "templates are bank-wide: operations and bank systems only",
    "SendMessage": "sending is for bank systems and operations only",
    "CreateTopic": "topics are bank-wide: operations and bank systems only",
    "CreateCampaign": "campaigns: operations and bank systems only",
    "GetCampaign": "campaigns: operations, bank systems and auditors only",
    "ListCampaigns": "campaigns: operations, bank systems and auditors only",
    "CancelCampaign": "campaigns: operations and bank systems only",
}
# Kind of resource a `name` / `parent` denotes, from the method name.
KINDS = (
    ("Alert", "alert"),
    ("Task", "task"),
    ("Subscription", "subscription"),
    ("Preferences", "preferences"),
    ("Message", "message"),
    ("DeliveryAttempts", "message"),
)


@dataclass(frozen=True)
class Inbox:
    """One person's resources."""

    staff: str
    message: str
    task: str
    alert: str
    subscription: str

    @property
    def preferences(self) -> str:
        return f"{self.staff}/preferences"


GHOST = Inbox(
    staff="staff/rm-ghost",
    message=f"messages/{ZERO}",
    task=f"tasks/{ZERO}",
    alert=f"alerts/{ZERO}",
    subscription=f"{TOPIC}/subscriptions/{ZERO}",
)


@dataclass(frozen=True)
class World:
    """Two RMs' inboxes."""

    own: Inbox
    other: Inbox


def resource_field(method: Any) -> str | None:
    """Return the request field (dotted) that names the resource, or None: a person first
    (top level, then cursors[].recipient or subscription.recipient), else the resource."""
    return (
        string_field(method, PERSON_FIELDS)
        or nested_field(method, "recipient")
        or named_field(method, ("name", "parent"))
    )


def target(method: Any, field: str, world: World, *, whose: str) -> str:
    """Return the resource name of the kind `method` takes: A's, B's or a nonexistent one."""
    inbox = {"own": world.own, "other": world.other, "ghost": GHOST}[whose]
    if field.rpartition(".")[2] in PERSON_FIELDS:
        return inbox.staff
    kind = next(kind for part, kind in KINDS if part in method.name)
    return str(getattr(inbox, kind))


def denial(method: Any) -> str:
    """Return the reason of the one refusal `method` gives for resources the caller may not
    touch."""
    return "ALERT_ACCESS_DENIED" if "Alert" in method.name else "RECIPIENT_ACCESS_DENIED"


# Whatever else a valid request of the method needs besides its resource name.
BODIES: dict[str, Callable[[Any], None]] = {
    "UpdatePreferences": lambda r: (
        setattr(r.preferences, "locale", "en"),
        r.update_mask.CopyFrom(field_mask_pb2.FieldMask(paths=["locale"])),
    ),
    "CompleteTask": lambda r: setattr(r, "resolution", "called the client"),
    "CreateSubscription": lambda r: setattr(r, "parent", TOPIC),
    "AcknowledgeAlert": lambda r: setattr(r, "note", "calling the client"),
}


def build(method: Any, field: str | None, resource: str) -> message.Message:
    """Return a request of `method` naming `resource` (fresh request id where there is one)."""
    return build_request(method, field, resource, BODIES.get(method.name))


def request_for(method: Any, world: World, whose: str) -> message.Message:
    """Return the method's request naming A's, B's or a nonexistent resource."""
    field = resource_field(method)
    assert field is not None
    return build(method, field, target(method, field, world, whose=whose))


def rm(h: Any, who: str) -> tuple[tuple[str, str], ...]:
    return h.as_(who, Role.RELATIONSHIP_MANAGER)


async def call_as(h: Any, method: Any, request: message.Message, who: str) -> Outcome:
    """Call `method` as RM `who`."""
    return await call(h.stub, method, request, rm(h, who))


async def seed(h: Any) -> World:
    """Give each RM a client, a push message and a task, an alert, preferences and a topic
    subscription."""
    await h.template(TEMPLATE.removeprefix("templates/"))
    await h.stub.CreateTopic(
        notify_service_pb2.CreateTopicRequest(
            topic_id=TOPIC.removeprefix("topics/"),
            topic=topic_pb2.Topic(
                display_name="Industry news", kind=topic_pb2.TOPIC_KIND_INDUSTRY_NEWS
            ),
            request_id=str(uuid.uuid4()),
        ),
        metadata=h.ops(),
    )
    now = h.ctx.clock()
    raised = timestamp_pb2.Timestamp()
    raised.FromDatetime(now)
    due = timestamp_pb2.Timestamp()
    due.FromDatetime(now + timedelta(hours=24))
    inboxes = {}
    for staff, client in CLIENTS.items():
        await h.deliver_events(
            [
                client_events_pb2.ClientCreated(
                    client=client, display_name=f"{staff} 的客户", relationship_manager=staff
                )
            ],
            source="client",
        )
        await h.deliver_events(
            [
                risk_events_pb2.WarningRaised(
                    warning=f"warnings/w-{staff.removeprefix('staff/')}",
                    client=client,
                    level="yellow",
                    rule="LOAN_PURPOSE_DIVERSION",
                    summary="loan proceeds moved to a real-estate account",
                    owner=staff,
                    raise_time=raised,
                    sla_due_time=due,
                )
            ],
            source="risk",
        )
        sent = await h.stub.SendMessage(
            notify_service_pb2.SendMessageRequest(
                recipient=staff,
                template=TEMPLATE,
                variables={"client_name": client},
                channels=[common_pb2.CHANNEL_PUSH, common_pb2.CHANNEL_TASK],
                request_id=str(uuid.uuid4()),
            ),
            metadata=h.system(),
        )
        [push] = [m.name for m in sent.messages if m.channel == common_pb2.CHANNEL_PUSH]
        [filed] = [m.name for m in sent.messages if m.channel == common_pb2.CHANNEL_TASK]
        tasks = await h.stub.ListTasks(notify_service_pb2.ListTasksRequest(), metadata=rm(h, staff))
        [task] = [t.name for t in tasks.tasks if t.message == filed]
        alerts = await h.stub.ListAlerts(
            notify_service_pb2.ListAlertsRequest(owner=staff), metadata=h.ops()
        )
        [alert] = [a.name for a in alerts.alerts]
        await h.stub.UpdatePreferences(
            notify_service_pb2.UpdatePreferencesRequest(
                preferences=preference_pb2.Preferences(
                    name=f"{staff}/preferences", time_zone="Asia/Shanghai"
                ),
                update_mask=field_mask_pb2.FieldMask(paths=["time_zone"]),
                request_id=str(uuid.uuid4()),
            ),
            metadata=rm(h, staff),
        )
        subscription = await h.stub.CreateSubscription(
            notify_service_pb2.CreateSubscriptionRequest(
                parent=TOPIC, subscription=topic_pb2.Subscription(recipient=staff)
            ),
            metadata=rm(h, staff),
        )
        inboxes[staff] = Inbox(staff, push, task, alert, subscription.name)
    return World(inboxes[RM_A], inboxes[RM_B])


async def snapshot(h: Any, inbox: Inbox) -> tuple[bytes, ...]:
    """Return everything the owner sees of their own resources, serialised."""
    who = rm(h, inbox.staff)
    replies = (
        await h.stub.GetPreferences(
            notify_service_pb2.GetPreferencesRequest(name=inbox.preferences), metadata=who
        ),
        await h.stub.ListMessages(notify_service_pb2.ListMessagesRequest(), metadata=who),
        await h.stub.ListTasks(notify_service_pb2.ListTasksRequest(), metadata=who),
        await h.stub.ListAlerts(notify_service_pb2.ListAlertsRequest(), metadata=who),
        await h.stub.ListSubscriptions(
            notify_service_pb2.ListSubscriptionsRequest(parent=TOPIC), metadata=who
        ),
    )
    return tuple(r.SerializeToString(deterministic=True) for r in replies)


def scoped_methods() -> list[Any]:
    return scoped_in(SERVICE, resource_field, NOT_OBJECT_SCOPED, FUNCTION_LEVEL)


def test_every_method_is_classified():
    """A method that names no resource must be listed with its reason (new RPCs fail here)."""
    check_classified(SERVICE, resource_field, NOT_OBJECT_SCOPED, FUNCTION_LEVEL)


async def test_function_level_methods_refuse_an_rm(sqlite_url, identity):
    """RM A is refused by role on every method an RM may not call, whether the request names
    B (or an existing bank-wide resource) or something that does not exist."""
    async with notify_service(sqlite_url, identity, workers=False) as h:
        world = await seed(h)
        campaign = await h.stub.CreateCampaign(
            notify_service_pb2.CreateCampaignRequest(
                campaign=campaign_pb2.Campaign(
                    template=TEMPLATE,
                    variables={"client_name": "x"},
                    recipient_list=campaign_pb2.RecipientList(
                        recipients=[campaign_pb2.CampaignRecipient(recipient=RM_B)]
                    ),
                ),
                request_id=str(uuid.uuid4()),
            ),
            metadata=h.ops(),
        )
        names = {
            "Template": {"other": TEMPLATE, "ghost": "templates/bola-ghost"},
            "Campaign": {"other": campaign.name, "ghost": f"campaigns/{ZERO}"},
        }
        outcomes = {}
        for name in FUNCTION_LEVEL:
            method = SERVICE.methods_by_name[name]
            field = resource_field(method)
            answers = []
            for whose in ("other", "ghost"):
                resource = ""
                if field is not None and field.rpartition(".")[2] in PERSON_FIELDS:
                    resource = target(method, field, world, whose=whose)
                elif field is not None:
                    resource = next(v[whose] for k, v in names.items() if k in name)
                answers.append(await call_as(h, method, build(method, field, resource), RM_A))
            outcomes[name] = answers
    assert outcomes.keys() == FUNCTION_LEVEL.keys()
    assert_refused_by_role(outcomes)


async def test_bola_matrix(store_url, identity, capsys):
    """RM A gets the same PERMISSION_DENIED for B's resources and for nonexistent ones, on
    every object-scoped method, while the same request on A's own resource succeeds."""
    async with notify_service(store_url, identity, workers=False) as h:
        world = await seed(h)
        before = await snapshot(h, world.other)
        scoped = scoped_methods()
        assert len(scoped) >= 14
        await run_matrix(
            "NotificationService",
            scoped,
            request_for=lambda method, whose: request_for(method, world, whose),
            call_as_a=lambda method, request: call_as(h, method, request, RM_A),
            reason_for=denial,
            capsys=capsys,
        )
        assert await snapshot(h, world.other) == before


async def test_lists_never_include_the_other_managers_rows(store_url, identity):
    """Messages, tasks, alerts and a topic's subscriptions listed by RM A show none of B's."""
    async with notify_service(store_url, identity, workers=False) as h:
        world = await seed(h)
        who = rm(h, RM_A)
        messages = await h.stub.ListMessages(
            notify_service_pb2.ListMessagesRequest(page_size=500), metadata=who
        )
        tasks = await h.stub.ListTasks(
            notify_service_pb2.ListTasksRequest(page_size=500), metadata=who
        )
        alerts = await h.stub.ListAlerts(
            notify_service_pb2.ListAlertsRequest(page_size=500), metadata=who
        )
        subscriptions = await h.stub.ListSubscriptions(
            notify_service_pb2.ListSubscriptionsRequest(parent=TOPIC, page_size=500), metadata=who
        )
        everyone = await h.stub.ListMessages(
            notify_service_pb2.ListMessagesRequest(page_size=500), metadata=h.ops()
        )
    assert {m.recipient for m in messages.messages} == {RM_A}
    assert world.own.message in {m.name for m in messages.messages}
    assert RM_B in {m.recipient for m in everyone.messages}  # B has rows that could leak.
    assert {t.assignee for t in tasks.tasks} == {RM_A}
    assert world.own.task in {t.name for t in tasks.tasks}
    assert [(a.name, a.owner) for a in alerts.alerts] == [(world.own.alert, RM_A)]
    assert [s.name for s in subscriptions.subscriptions] == [world.own.subscription]


async def test_deleting_a_subscription_reveals_nothing(store_url, identity):
    """Found by the matrix: deleting a nonexistent subscription was NOT_FOUND for an RM while
    someone else's was PERMISSION_DENIED. Both now give the RM the same refusal (B's survives);
    operations, who act for everyone, still learn that a subscription does not exist."""
    async with notify_service(store_url, identity, workers=False) as h:
        world = await seed(h)
        method = SERVICE.methods_by_name["DeleteSubscription"]
        names = (
            world.other.subscription,
            GHOST.subscription,
            # B's subscription id under another topic's name.
            f"topics/other-news/subscriptions/{world.other.subscription.rpartition('/')[2]}",
        )
        answers = [await call_as(h, method, build(method, "name", n), RM_A) for n in names]
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await h.stub.DeleteSubscription(
                notify_service_pb2.DeleteSubscriptionRequest(name=GHOST.subscription),
                metadata=h.ops(),
            )
        left = await h.stub.ListSubscriptions(
            notify_service_pb2.ListSubscriptionsRequest(parent=TOPIC), metadata=rm(h, RM_B)
        )
    assert answers == [answers[0]] * 3
    assert answers[0].verdict == denied(denial(method))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert [s.name for s in left.subscriptions] == [world.other.subscription]
