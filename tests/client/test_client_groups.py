"""Credit groups, memberships and guarantees in the client service: rules, history, access."""

from __future__ import annotations

import uuid

import grpc
import pytest
from client_harness import RM_A, RM_B, a_client, client_service, create_request, money
from contract_support import details
from google.type import date_pb2

from crm.client.v1 import client_pb2
from crm.client.v1 import client_service_pb2 as svc
from crm_client.domain.credit_code import make_credit_code
from crm_runtime.auth import Role

START = date_pb2.Date(year=2026, month=1, day=1)


async def a_new_client(h, index: int, rm: str = RM_A) -> str:
    code = make_credit_code("91440300", f"GR{index:06d}")
    created = await h.stub.CreateClient(create_request(a_client(code)), metadata=h.rm(rm))
    return created.name


def member(client: str, share: float = 60.0) -> client_pb2.GroupMember:
    return client_pb2.GroupMember(client=client, share_percent=share, valid_from=START,
                                 control_type=client_pb2.CONTROL_TYPE_EQUITY_CONTROL)


def guarantee(beneficiary: str, amount: int = 5_000_000) -> client_pb2.Guarantee:
    return client_pb2.Guarantee(beneficiary=beneficiary, amount=money(amount), valid_from=START,
                               guarantee_type=client_pb2.GUARANTEE_TYPE_JOINT_LIABILITY)


async def refused(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value.code(), details(caught.value)[0]


class TestGroups:
    async def test_group_tree_members_and_history(self, store_url, identity):
        """A parent loop is refused; shares across groups stay ≤ 100 %; an ended membership
        stays listed with its end date; a repeated request_id returns the first group."""
        async with client_service(store_url, identity) as h:
            ops = h.ops()
            request = svc.CreateGroupRequest(group=client_pb2.Group(display_name="华信集团"),
                                             group_id="huaxin", request_id=str(uuid.uuid4()))
            top = await h.stub.CreateGroup(request, metadata=ops)
            again = await h.stub.CreateGroup(request, metadata=ops)
            sub = await h.stub.CreateGroup(svc.CreateGroupRequest(
                group=client_pb2.Group(display_name="华信能源", parent_group=top.name),
                group_id="huaxin-energy"), metadata=ops)
            loop = await refused(h.stub.CreateGroup(svc.CreateGroupRequest(
                group=client_pb2.Group(display_name="环", parent_group="groups/nowhere"),
                group_id="nowhere"), metadata=ops))
            client = await a_new_client(h, 1)
            first = await h.stub.CreateGroupMember(
                svc.CreateGroupMemberRequest(parent=top.name, member=member(client, 60)),
                metadata=h.rm(RM_A))
            too_much = await refused(h.stub.CreateGroupMember(
                svc.CreateGroupMemberRequest(parent=sub.name, member=member(client, 50)),
                metadata=h.rm(RM_A)))
            ended = await h.stub.EndGroupMember(
                svc.EndGroupMemberRequest(name=first.name, valid_to=date_pb2.Date(
                    year=2026, month=6, day=30)), metadata=h.rm(RM_A))
            await h.stub.CreateGroupMember(
                svc.CreateGroupMemberRequest(parent=sub.name, member=member(client, 50)),
                metadata=h.rm(RM_A))
            listed = await h.stub.ListGroupMembers(
                svc.ListGroupMembersRequest(parent=top.name), metadata=ops)
        assert again.name == top.name == "groups/huaxin"
        assert loop[0] == grpc.StatusCode.INVALID_ARGUMENT
        assert too_much[0] == grpc.StatusCode.INVALID_ARGUMENT
        assert ended.valid_to.month == 6
        assert [(m.client, m.valid_to.month) for m in listed.members] == [(client, 6)]

    async def test_rms_see_groups_only_through_their_clients(self, store_url, identity):
        """RM B sees the group and only B's member row; RM C, with no member, gets the same
        PERMISSION_DENIED as for a group that does not exist."""
        async with client_service(store_url, identity) as h:
            group = await h.stub.CreateGroup(svc.CreateGroupRequest(
                group=client_pb2.Group(display_name="恒远集团"), group_id="hengyuan"),
                metadata=h.ops())
            mine, theirs = await a_new_client(h, 2, RM_A), await a_new_client(h, 3, RM_B)
            for rm, client in ((RM_A, mine), (RM_B, theirs)):
                await h.stub.CreateGroupMember(
                    svc.CreateGroupMemberRequest(parent=group.name, member=member(client)),
                    metadata=h.rm(rm))
            seen_by_b = await h.stub.ListGroupMembers(
                svc.ListGroupMembersRequest(parent=group.name), metadata=h.rm(RM_B))
            groups_of_c = await h.stub.ListGroups(svc.ListGroupsRequest(),
                                                  metadata=h.rm("staff/rm-c"))
            hidden = await refused(h.stub.GetGroup(svc.GetGroupRequest(name=group.name),
                                                   metadata=h.rm("staff/rm-c")))
            ghost = await refused(h.stub.GetGroup(svc.GetGroupRequest(name="groups/ghost"),
                                                  metadata=h.rm("staff/rm-c")))
            foreign = await refused(h.stub.CreateGroupMember(
                svc.CreateGroupMemberRequest(parent=group.name, member=member(theirs, 10)),
                metadata=h.rm(RM_A)))
            everything = await h.stub.ListGroups(
                svc.ListGroupsRequest(), metadata=h.as_("staff/risk-1", Role.RISK_OFFICER))
        assert [m.client for m in seen_by_b.members] == [theirs]
        assert foreign == (grpc.StatusCode.PERMISSION_DENIED, "CLIENT_ACCESS_DENIED")
        assert list(groups_of_c.groups) == []
        assert hidden == ghost == (grpc.StatusCode.PERMISSION_DENIED, "GROUP_ACCESS_DENIED")
        assert [g.name for g in everything.groups] == [group.name]


class TestGuarantees:
    async def test_guarantee_rules_history_and_listing(self, store_url, identity):
        """A self-guarantee is refused; a guarantee shows on both clients; ending keeps it."""
        async with client_service(store_url, identity) as h:
            a, b = await a_new_client(h, 4), await a_new_client(h, 5, RM_B)
            itself = await refused(h.stub.CreateGuarantee(
                svc.CreateGuaranteeRequest(parent=a, guarantee=guarantee(a)), metadata=h.rm()))
            given = await h.stub.CreateGuarantee(
                svc.CreateGuaranteeRequest(parent=a, guarantee=guarantee(b)), metadata=h.rm())
            ended = await h.stub.EndGuarantee(svc.EndGuaranteeRequest(name=given.name),
                                              metadata=h.rm())
            on_b = await h.stub.ListGuarantees(svc.ListGuaranteesRequest(parent=b),
                                               metadata=h.rm(RM_B))
            twice = await refused(h.stub.EndGuarantee(svc.EndGuaranteeRequest(name=given.name),
                                                      metadata=h.rm()))
        assert itself[0] == grpc.StatusCode.INVALID_ARGUMENT
        assert (given.guarantor, given.beneficiary, given.amount.units) == (a, b, 5_000_000)
        assert ended.HasField("valid_to")
        assert [g.name for g in on_b.guarantees] == [given.name]
        assert twice == (grpc.StatusCode.FAILED_PRECONDITION, "ALREADY_ENDED")


async def test_member_and_guarantee_lists_are_paged(store_url, identity):
    """Three members and three guarantees come back two, then one, in recording order."""
    async with client_service(store_url, identity) as h:
        group = await h.stub.CreateGroup(svc.CreateGroupRequest(
            group=client_pb2.Group(display_name="万达"), group_id="paged"), metadata=h.ops())
        clients = [await a_new_client(h, 10 + i) for i in range(4)]
        for client in clients[:3]:
            await h.stub.CreateGroupMember(svc.CreateGroupMemberRequest(
                parent=group.name, member=member(client, 10)), metadata=h.rm())
            await h.stub.CreateGuarantee(svc.CreateGuaranteeRequest(
                parent=clients[3], guarantee=guarantee(client)), metadata=h.rm())
        pages = []
        for listing, request in (
            (h.stub.ListGroupMembers, svc.ListGroupMembersRequest(parent=group.name,
                                                                 page_size=2)),
            (h.stub.ListGuarantees, svc.ListGuaranteesRequest(parent=clients[3], page_size=2)),
        ):
            first = await listing(request, metadata=h.rm())
            request.page_token = first.next_page_token
            second = await listing(request, metadata=h.rm())
            pages.append((first, second))
    (m1, m2), (g1, g2) = pages
    assert [m.client for m in [*m1.members, *m2.members]] == clients[:3]
    assert m2.next_page_token == ""
    assert [g.beneficiary for g in [*g1.guarantees, *g2.guarantees]] == clients[:3]
    assert g2.next_page_token == ""
