"""Campaigns: segment members resolved through the real client service, SMS with audited lookups."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from client_harness import a_client, client_service, create_request
from notify_harness import RM_A, details, notify_service
from sqlalchemy import select
from webhook_receiver import WebhookReceiver

from crm.client.v1 import client_pb2, client_service_pb2
from crm.notify.v1 import campaign_pb2, common_pb2, notify_service_pb2, template_pb2, topic_pb2
from crm_client.domain.credit_code import make_credit_code
from crm_notify.directory import DELIVERY_ACCESS_REASON
from crm_runtime.auth import Role
from crm_runtime.tables import PersonalDataAccess
from crm_runtime.testing import free_port

SECRET = "whsec_Y2FtcGFpZ24tc2VjcmV0"
MOBILES = ["13800000001", "13800000002", "13800000003", "13800000004", "13800000005"]


async def _populate(client_h) -> list[str]:
    """Create three medium manufacturers; two with two contacts, one with one."""
    people: list[str] = []
    for index, count in enumerate((2, 2, 1)):
        client = await client_h.stub.CreateClient(
            create_request(
                a_client(
                    credit_code=make_credit_code("91440300", f"MA{index:06d}"),
                    display_name=f"深圳第{index}精密有限公司",
                )
            ),
            metadata=client_h.rm(),
        )
        for _ in range(count):
            person = await client_h.stub.CreateKeyPerson(
                client_service_pb2.CreateKeyPersonRequest(
                    parent=client.name,
                    key_person=client_pb2.KeyPerson(
                        display_name="李四",
                        role=client_pb2.KEY_PERSON_ROLE_CONTACT,
                        mobile_number=MOBILES[len(people)],
                    ),
                    request_id=str(uuid.uuid4()),
                ),
                metadata=client_h.rm(),
            )
            people.append(person.name)
    return people


async def _campaign(h, **fields) -> campaign_pb2.Campaign:
    return await h.stub.CreateCampaign(
        notify_service_pb2.CreateCampaignRequest(
            campaign=campaign_pb2.Campaign(template="templates/policy", **fields),
            request_id=str(uuid.uuid4()),
        ),
        metadata=h.ops(),
    )


async def _until(predicate, timeout: float = 10.0) -> None:
    """Poll another party's progress (a service over gRPC: there is no event to await)."""
    async with asyncio.timeout(timeout):
        while not await predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


class TestSegmentCampaign:
    async def test_segment_members_get_personalised_sms_and_push(
        self, sqlite_url, tmp_path, identity
    ):
        """Every contact of every member client gets SMS and push; lookups are audited."""
        receiver = WebhookReceiver(secret=SECRET)
        sms_url = await receiver.start()
        notify_port = free_port()
        client_url = f"sqlite+aiosqlite:///{tmp_path}/client.db"
        try:
            async with (
                client_service(
                    client_url, identity, subscribers=f"notify=127.0.0.1:{notify_port}"
                ) as client_h,
                notify_service(
                    sqlite_url,
                    identity,
                    grpc_port=notify_port,
                    client_addr=client_h.running.address,
                    sms_webhook_url=sms_url,
                    sms_webhook_secret=SECRET,
                    campaign_segment_page_size=2,
                ) as h,
            ):
                people = await _populate(client_h)
                rm = h.as_(RM_A, Role.RELATIONSHIP_MANAGER)

                async def rm_has_three_new_client_tasks() -> bool:
                    tasks = await h.stub.ListTasks(
                        notify_service_pb2.ListTasksRequest(), metadata=rm
                    )
                    return len(tasks.tasks) == 3

                await _until(rm_has_three_new_client_tasks)  # ClientCreated reached notify.
                await h.template(
                    "policy",
                    zh=("政策解读", "{{ client_name }}：新政策解读已发布。"),
                    en=("Policy note", "{{ client_name }}: a new policy note is out."),
                )
                created = await _campaign(
                    h,
                    display_name="政策解读",
                    segment="segments/demo-size-medium",
                    channels=[common_pb2.CHANNEL_SMS, common_pb2.CHANNEL_PUSH],
                )

                async def all_sms_delivered() -> bool:
                    got = await h.stub.GetCampaign(
                        notify_service_pb2.GetCampaignRequest(name=created.name), metadata=h.ops()
                    )
                    return got.stats.delivered == 5

                await _until(all_sms_delivered)
                final = await h.stub.GetCampaign(
                    notify_service_pb2.GetCampaignRequest(name=created.name), metadata=h.ops()
                )
                async with client_h.ctx.db.read() as session:
                    audit = list(
                        (
                            await session.execute(
                                select(PersonalDataAccess).where(
                                    PersonalDataAccess.reason == DELIVERY_ACCESS_REASON
                                )
                            )
                        ).scalars()
                    )
        finally:
            await receiver.close()
        assert final.state == campaign_pb2.CAMPAIGN_STATE_DISPATCHED
        stats = final.stats
        assert (stats.recipients, stats.messages, stats.delivered, stats.queued) == (5, 10, 5, 5)
        sms = list(receiver.deliveries.values())
        assert sorted(p["to"] for p in sms) == MOBILES
        assert {p["text"].split("：")[0] for p in sms} == {
            f"深圳第{i}精密有限公司" for i in range(3)
        }
        assert sorted(a.resource for a in audit) == sorted(people)
        assert {(a.actor, a.fields, a.outcome) for a in audit} == {
            ("systems/notify", "mobile_number", "granted")
        }

    async def test_unknown_segment_is_a_clear_error(self, sqlite_url, tmp_path, identity):
        """A campaign naming a segment the client service does not know is INVALID_ARGUMENT."""
        async with (
            client_service(f"sqlite+aiosqlite:///{tmp_path}/c.db", identity) as client_h,
            notify_service(sqlite_url, identity, client_addr=client_h.running.address) as h,
        ):
            await h.template("policy")
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await _campaign(h, segment="segments/no-such-segment")
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert details(caught.value) == ("SEGMENT_NOT_FOUND", ["campaign.segment"])

    async def test_client_service_unmasks_only_the_mobile_for_delivery(self, tmp_path, identity):
        """A system gets the mobile number (and nothing else) only with the delivery reason."""
        async with client_service(f"sqlite+aiosqlite:///{tmp_path}/c.db", identity) as client_h:
            person = (await _populate(client_h))[0]
            system = identity.metadata("systems/notify", Role.SYSTEM, kid="notify")
            shown = await client_h.stub.GetKeyPerson(
                client_service_pb2.GetKeyPersonRequest(
                    name=person, unmask=True, access_reason=DELIVERY_ACCESS_REASON
                ),
                metadata=system,
            )
            with pytest.raises(grpc.aio.AioRpcError) as other_reason:
                await client_h.stub.GetKeyPerson(
                    client_service_pb2.GetKeyPersonRequest(
                        name=person, unmask=True, access_reason="curious"
                    ),
                    metadata=system,
                )
        assert (shown.mobile_number, shown.display_name, shown.masked) == (MOBILES[0], "李*", True)
        assert other_reason.value.code() == grpc.StatusCode.PERMISSION_DENIED


class TestListAndTopicCampaigns:
    async def test_explicit_list_with_personal_values(self, sqlite_url, identity):
        """Each listed recipient gets its own values; one bad value is caught before saving."""
        async with notify_service(sqlite_url, identity) as h:
            await h.template(
                "policy",
                variables=(
                    ("client_name", template_pb2.VARIABLE_TYPE_STRING),
                    ("rate", template_pb2.VARIABLE_TYPE_PERCENT),
                ),
                zh=("利率调整", "{{ client_name }}：新利率 {{ rate }}"),
                en=("Rate change", "{{ client_name }}: new rate {{ rate }}"),
            )
            people = [f"staff/u{i}" for i in range(3)]
            listed = campaign_pb2.RecipientList(
                recipients=[
                    campaign_pb2.CampaignRecipient(recipient=p, variables={"client_name": p})
                    for p in people
                ]
            )
            with pytest.raises(grpc.aio.AioRpcError) as bad:
                await _campaign(h, recipient_list=listed, variables={"rate": "three"})
            assert details(bad.value) == (
                "TEMPLATE_RENDER_FAILED",
                ["campaign.recipient_list.recipients[0].variables.rate"],
            )
            created = await _campaign(h, recipient_list=listed, variables={"rate": "0.0345"})
            await h.dispatch_campaigns()
            bodies = {p: (await h.read_stream(p, 1))[0].body for p in people}
            final = await h.stub.GetCampaign(
                notify_service_pb2.GetCampaignRequest(name=created.name), metadata=h.ops()
            )
        assert bodies == {p: f"{p}：新利率 3.45%" for p in people}
        assert (final.stats.messages, final.state) == (3, campaign_pb2.CAMPAIGN_STATE_DISPATCHED)

    async def test_topic_subscribers_and_cancel(self, sqlite_url, identity):
        """A topic campaign reaches subscribers only; a scheduled campaign can be cancelled."""
        async with notify_service(sqlite_url, identity, workers=False) as h:
            await h.template("policy")
            await h.stub.CreateTopic(
                notify_service_pb2.CreateTopicRequest(
                    topic_id="rate-changes",
                    topic=topic_pb2.Topic(
                        display_name="Rate changes", kind=topic_pb2.TOPIC_KIND_RATE_CHANGE
                    ),
                ),
                metadata=h.ops(),
            )
            for person in ("staff/s1", "staff/s2"):
                await h.stub.CreateSubscription(
                    notify_service_pb2.CreateSubscriptionRequest(
                        parent="topics/rate-changes",
                        subscription=topic_pb2.Subscription(recipient=person),
                    ),
                    metadata=h.as_(person, Role.RELATIONSHIP_MANAGER),
                )
            sent = await _campaign(
                h,
                topic="topics/rate-changes",
                topic_subscribers="topics/rate-changes",
                variables={"client_name": "全体"},
            )
            held = await _campaign(
                h,
                topic_subscribers="topics/rate-changes",
                variables={"client_name": "x"},
                schedule_time={"seconds": 4_000_000_000},
            )
            cancelled = await h.stub.CancelCampaign(
                notify_service_pb2.CancelCampaignRequest(name=held.name), metadata=h.ops()
            )
            await h.dispatch_campaigns()
            got = await h.stub.GetCampaign(
                notify_service_pb2.GetCampaignRequest(name=sent.name), metadata=h.ops()
            )
            recipients = {
                m.recipient
                for m in (
                    await h.stub.ListMessages(
                        notify_service_pb2.ListMessagesRequest(campaign=sent.name),
                        metadata=h.ops(),
                    )
                ).messages
            }
        assert cancelled.state == campaign_pb2.CAMPAIGN_STATE_CANCELLED
        assert got.stats.messages == 2 and recipients == {"staff/s1", "staff/s2"}

    async def test_campaign_wakes_an_open_stream_at_commit(self, sqlite_url, identity):
        """A waiting stream gets a campaign's message from the commit wake-up, not a poll."""
        async with notify_service(sqlite_url, identity, stream_heartbeat_seconds=30) as h:
            await h.template("policy")
            reader = asyncio.create_task(h.read_stream("staff/s1", 1, timeout=5))
            await asyncio.sleep(0.3)
            started = asyncio.get_running_loop().time()
            await _campaign(
                h,
                recipient_list=campaign_pb2.RecipientList(
                    recipients=[campaign_pb2.CampaignRecipient(recipient="staff/s1")]
                ),
                variables={"client_name": "甲"},
            )
            got = await reader
            waited = asyncio.get_running_loop().time() - started
        assert [m.sequence for m in got] == [1]
        assert waited < 3, waited  # The heartbeat is 30 s: only the hub could have woken it.
