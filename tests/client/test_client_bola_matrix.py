"""BOLA matrix (RELIABILITY §7.17): every RPC of ClientService, generated from its descriptor.

The scaffolding and what the matrix asserts are in bola_support. Here: a method is
object-scoped when its request names a client or key person (`name`, `parent`, `client`, or
`<resource>.name` in an update); lists are checked for B's rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from bola_support import (
    Outcome,
    build_request,
    call,
    check_classified,
    resource_field,
    run_matrix,
    scoped_methods,
)
from client_harness import RM_A, RM_B, a_client, client_service, create_request
from google.protobuf import field_mask_pb2, message
from google.type import date_pb2, money_pb2

from crm.client.v1 import client_pb2, client_service_pb2
from crm_client.domain.credit_code import make_credit_code
from crm_runtime.auth import Role

SERVICE = client_service_pb2.DESCRIPTOR.services_by_name["ClientService"]
GHOST_CLIENT = "clients/00000000000000000000000000000000"
GHOST_PERSON = f"{GHOST_CLIENT}/keyPersons/00000000000000000000000000000000"
DENIED = "CLIENT_ACCESS_DENIED"

# Methods whose request names no client-owned resource (some name a segment), each with the
# reason it is safe; every other method must name a client or key person.
NOT_OBJECT_SCOPED = {
    "CreateClient": "creates a client owned by the caller",
    "ListClients": "a list: checked below for B's rows",
    "RecordActivity": "bank systems only (function-level rule); RMs are refused by role",
    "GetSegment": "segment definitions are bank-wide, not client data",
    "ListSegments": "segment definitions are bank-wide, not client data",
    "CreateSegment": "operations only (function-level rule)",
    "UpdateSegment": "operations only (function-level rule)",
    "ListSegmentMembers": "a list: checked below for B's rows",
    "CreateGroup": "creates a group (bank-wide master data); no client data in it",
    "ListGroups": "a list: checked below for B's groups",
    "CreateGroupMember": (
        "the group is shared master data; the member client is checked like any client "
        "(test_client_groups: B's client cannot be added by A)"
    ),
    "ImportClients": "operations and bank systems only (function-level rule); RMs are refused "
                     "by role (test_client_import)",
    "GetImport": "an import belongs to operations, not to an RM; RMs are refused by role "
                 "(test_client_import)",
}
GROUP_DENIED = "GROUP_ACCESS_DENIED"
GHOST_GROUP = "groups/ghost-group"


@dataclass(frozen=True)
class World:
    """Two RMs' clients and key persons."""

    own_client: str
    own_person: str
    other_client: str
    other_person: str
    own_group: str = ""
    other_group: str = ""
    own_member: str = ""
    other_member: str = ""
    own_guarantee: str = ""
    other_guarantee: str = ""


def group_target(method: Any, world: World, *, whose: str) -> str | None:
    """Return the group, membership or guarantee `method` takes, or None for other methods."""
    name = method.name
    if name in ("GetGroup", "ListGroupMembers"):
        return {"own": world.own_group, "other": world.other_group, "ghost": GHOST_GROUP}[whose]
    if name == "EndGroupMember":
        return {"own": world.own_member, "other": world.other_member,
                "ghost": f"{GHOST_GROUP}/members/00000000000000000000000000000000"}[whose]
    if name == "EndGuarantee":
        return {"own": world.own_guarantee, "other": world.other_guarantee,
                "ghost": f"{GHOST_CLIENT}/guarantees/00000000000000000000000000000000"}[whose]
    return None


def target(method: Any, world: World, *, whose: str) -> str:
    """Return the resource name of the kind `method` takes: A's, B's or a nonexistent one."""
    special = group_target(method, world, whose=whose)
    if special is not None:
        return special
    person = "KeyPerson" in method.name and not method.name.startswith(("Create", "List"))
    if whose == "ghost":
        return GHOST_PERSON if person else GHOST_CLIENT
    if person:
        return world.own_person if whose == "own" else world.other_person
    return world.own_client if whose == "own" else world.other_client


def key_person() -> client_pb2.KeyPerson:
    return client_pb2.KeyPerson(
        display_name="王建国",
        role=client_pb2.KEY_PERSON_ROLE_LEGAL_REPRESENTATIVE,
        id_number="110105199003071239",
        mobile_number="13812345678",
        birth_date=date_pb2.Date(year=1990, month=3, day=7),
    )


# Whatever else a valid request of the method needs besides its resource name.
BODIES: dict[str, Callable[[Any], None]] = {
    "UpdateClient": lambda r: (
        setattr(r.client, "employee_count", 430),
        r.update_mask.CopyFrom(field_mask_pb2.FieldMask(paths=["employee_count"])),
    ),
    "AssignClient": lambda r: (
        setattr(r, "relationship_manager", RM_A),
        setattr(r, "reason", "portfolio rebalancing"),
    ),
    "CreateKeyPerson": lambda r: r.key_person.CopyFrom(key_person()),
    "CreateGuarantee": lambda r: r.guarantee.CopyFrom(client_pb2.Guarantee(
        amount=money_pb2.Money(currency_code="CNY", units=1_000_000),
        valid_from=date_pb2.Date(year=2026, month=1, day=1),
        guarantee_type=client_pb2.GUARANTEE_TYPE_GENERAL)),
}


# Methods an RM may not call at all are tried as the lowest role that may (still A, still
# without B's team): ownership is what is being tested.
CALLER_ROLES = {"AssignClient": Role.TEAM_LEAD}


def request_for(method: Any, world: World, whose: str) -> message.Message:
    """Return the method's request naming A's, B's or a nonexistent resource."""
    resource = target(method, world, whose=whose)
    request = build_request(method, resource_field(method), resource, BODIES.get(method.name))
    if method.name == "CreateGuarantee":  # for B's client, whoever's guarantor it is
        request.guarantee.beneficiary = world.other_client  # type: ignore[attr-defined]
    return request


async def call_as(h: Any, method: Any, request: message.Message, who: str) -> Outcome:
    """Call `method` as `who` with the lowest role that may call it."""
    role = CALLER_ROLES.get(method.name, Role.RELATIONSHIP_MANAGER)
    return await call(h.stub, method, request, h.as_(who, role))


async def seed(h: Any) -> World:
    """Create a client with a key person for each RM."""
    made = {}
    for rm, code in (
        (RM_A, make_credit_code("91110108", "BKLA0001")),
        (RM_B, make_credit_code("91350203", "BKLA0002")),
    ):
        client = await h.stub.CreateClient(create_request(a_client(code)), metadata=h.rm(rm))
        person = await h.stub.CreateKeyPerson(
            client_service_pb2.CreateKeyPersonRequest(parent=client.name, key_person=key_person()),
            metadata=h.rm(rm),
        )
        made[rm] = (client.name, person.name)
    world = World(made[RM_A][0], made[RM_A][1], made[RM_B][0], made[RM_B][1])
    return await seed_groups(h, world)


async def seed_groups(h: Any, world: World) -> World:
    """Give each RM's client a group of its own (membership) and a guarantee."""
    names: dict[str, tuple[str, str, str]] = {}
    for rm, client, other in ((RM_A, world.own_client, world.other_client),
                              (RM_B, world.other_client, world.own_client)):
        group = await h.stub.CreateGroup(client_service_pb2.CreateGroupRequest(
            group=client_pb2.Group(display_name=f"{rm} 集团")), metadata=h.ops())
        member = await h.stub.CreateGroupMember(client_service_pb2.CreateGroupMemberRequest(
            parent=group.name, member=client_pb2.GroupMember(
                client=client, share_percent=10,
                valid_from=date_pb2.Date(year=2026, month=1, day=1),
                control_type=client_pb2.CONTROL_TYPE_OTHER)), metadata=h.rm(rm))
        guarantee = await h.stub.CreateGuarantee(client_service_pb2.CreateGuaranteeRequest(
            parent=client, guarantee=client_pb2.Guarantee(
                beneficiary=other, amount=money_pb2.Money(currency_code="CNY", units=1_000_000),
                valid_from=date_pb2.Date(year=2026, month=1, day=1),
                guarantee_type=client_pb2.GUARANTEE_TYPE_GENERAL)), metadata=h.rm(rm))
        names[rm] = (group.name, member.name, guarantee.name)
    return replace(world, own_group=names[RM_A][0], other_group=names[RM_B][0],
                   own_member=names[RM_A][1], other_member=names[RM_B][1],
                   own_guarantee=names[RM_A][2], other_guarantee=names[RM_B][2])


def test_every_method_is_classified():
    """A method that names no resource must be listed with its reason (new RPCs fail here)."""
    check_classified(SERVICE, resource_field, NOT_OBJECT_SCOPED)


async def test_bola_matrix(store_url, identity, capsys):
    """RM A gets the same PERMISSION_DENIED for B's resources and for nonexistent ones, on
    every object-scoped method, while the same request on A's own resource succeeds."""
    async with client_service(store_url, identity) as h:
        world = await seed(h)
        before = await h.stub.GetClient(
            client_service_pb2.GetClientRequest(name=world.other_client), metadata=h.rm(RM_B)
        )
        scoped = scoped_methods(SERVICE, resource_field, NOT_OBJECT_SCOPED)
        assert len(scoped) >= 10
        await run_matrix(
            "ClientService",
            scoped,
            request_for=lambda method, whose: request_for(method, world, whose),
            call_as_a=lambda method, request: call_as(h, method, request, RM_A),
            reason_for=lambda method: GROUP_DENIED if method.name in (
                "GetGroup", "ListGroupMembers", "EndGroupMember") else DENIED,
            capsys=capsys,
        )
        after = await h.stub.GetClient(
            client_service_pb2.GetClientRequest(name=world.other_client), metadata=h.rm(RM_B)
        )
        assert (after.etag, after.relationship_manager) == (before.etag, RM_B)
        persons = await h.stub.ListKeyPersons(
            client_service_pb2.ListKeyPersonsRequest(parent=world.other_client),
            metadata=h.rm(RM_B),
        )
        assert [p.name for p in persons.key_persons] == [world.other_person]


async def test_lists_never_include_the_other_managers_clients(store_url, identity):
    """ListClients and every segment's member list show RM A none of B's clients."""
    async with client_service(store_url, identity) as h:
        world = await seed(h)
        listed = await h.stub.ListClients(
            client_service_pb2.ListClientsRequest(page_size=100), metadata=h.rm(RM_A)
        )
        assert [c.name for c in listed.clients] == [world.own_client]
        segments = await h.stub.ListSegments(
            client_service_pb2.ListSegmentsRequest(page_size=100), metadata=h.rm(RM_A)
        )
        assert segments.segments
        seen: set[str] = set()
        for segment in segments.segments:
            members = await h.stub.ListSegmentMembers(
                client_service_pb2.ListSegmentMembersRequest(segment=segment.name, page_size=100),
                metadata=h.rm(RM_A),
            )
            seen.update(m.client for m in members.memberships)
        assert world.other_client not in seen
        assert world.own_client in seen
        groups = await h.stub.ListGroups(client_service_pb2.ListGroupsRequest(),
                                         metadata=h.rm(RM_A))
        assert [g.name for g in groups.groups] == [world.own_group]
