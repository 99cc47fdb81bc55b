"""BOLA matrix (RELIABILITY §7.17): every RPC of ClientService, generated from its descriptor.

Each method is classified from its request message: the fields that name a resource (`name`,
`parent`, `client`, or `<resource>.name` in an update) make it object-scoped. A method the
classification does not cover fails the test, so a new RPC cannot ship without a decision.

For every object-scoped method, relationship manager A calls it with B's resource and with a
resource that does not exist: both must give the same PERMISSION_DENIED (no existence oracle),
and B's data must be unchanged. The same request with A's own resource must succeed, which
shows the refusal comes from ownership and not from a malformed request. Lists are checked for
B's rows. The report line counts cross-owner successes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from client_harness import RM_A, RM_B, a_client, client_service, create_request
from google.protobuf import field_mask_pb2, message
from google.type import date_pb2

from crm.client.v1 import client_pb2, client_service_pb2
from crm_client.domain.credit_code import make_credit_code
from crm_runtime.auth import Role

SERVICE = client_service_pb2.DESCRIPTOR.services_by_name["ClientService"]
RESOURCE_FIELDS = ("name", "parent", "client")
GHOST_CLIENT = "clients/00000000000000000000000000000000"
GHOST_PERSON = f"{GHOST_CLIENT}/keyPersons/00000000000000000000000000000000"

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
}


@dataclass(frozen=True)
class World:
    """Two RMs' clients and key persons."""

    own_client: str
    own_person: str
    other_client: str
    other_person: str


def resource_field(method: Any) -> str | None:
    """Return the request field (dotted) that names the resource, or None."""
    fields = method.input_type.fields_by_name
    for name in RESOURCE_FIELDS:
        if name in fields and fields[name].type == fields[name].TYPE_STRING:
            return name
    for field in method.input_type.fields:  # Update methods: client.name, key_person.name
        message_type = field.message_type
        names = message_type.fields_by_name if message_type is not None else {}
        if method.name.startswith("Update") and "name" in names:
            return f"{field.name}.name"
    return None


def target(method: Any, world: World, *, whose: str) -> str:
    """Return the resource name of the kind `method` takes: A's, B's or a nonexistent one."""
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
}


def build(method: Any, field: str, resource: str) -> message.Message:
    """Return a request of `method` naming `resource` (fresh request id where there is one)."""
    request = client_service_pb2.__dict__[method.input_type.name]()
    holder, _, leaf = field.rpartition(".")
    setattr(getattr(request, holder) if holder else request, leaf, resource)
    BODIES.get(method.name, lambda r: None)(request)
    if "request_id" in method.input_type.fields_by_name:
        request.request_id = str(uuid.uuid4())
    return request


# Methods an RM may not call at all are tried as the lowest role that may (still A, still
# without B's team): ownership is what is being tested.
CALLER_ROLES = {"AssignClient": Role.TEAM_LEAD}


async def call(h: Any, method: Any, request: message.Message, who: str) -> tuple[Any, str]:
    """Call `method` as `who`; return the status code and the error message."""
    role = CALLER_ROLES.get(method.name, Role.RELATIONSHIP_MANAGER)
    try:
        await getattr(h.stub, method.name)(request, metadata=h.as_(who, role))
    except grpc.aio.AioRpcError as error:
        return error.code(), error.details() or ""
    return grpc.StatusCode.OK, ""


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
    return World(made[RM_A][0], made[RM_A][1], made[RM_B][0], made[RM_B][1])


def test_every_method_is_classified():
    """A method that names no resource must be listed with its reason (new RPCs fail here)."""
    unclassified = [
        m.name
        for m in SERVICE.methods
        if resource_field(m) is None and m.name not in NOT_OBJECT_SCOPED
    ]
    assert unclassified == []
    stale = [name for name in NOT_OBJECT_SCOPED if name not in SERVICE.methods_by_name]
    assert stale == []


async def test_bola_matrix(store_url, identity, capsys):
    """RM A gets the same PERMISSION_DENIED for B's resources and for nonexistent ones, on
    every object-scoped method, while the same request on A's own resource succeeds."""
    async with client_service(store_url, identity) as h:
        world = await seed(h)
        before = await h.stub.GetClient(
            client_service_pb2.GetClientRequest(name=world.other_client), metadata=h.rm(RM_B)
        )
        scoped = [
            m
            for m in SERVICE.methods
            if resource_field(m) is not None and m.name not in NOT_OBJECT_SCOPED
        ]
        # Deletion last: it removes the resource the other methods use.
        scoped.sort(key=lambda m: m.name.startswith("Delete"))
        assert len(scoped) >= 10
        outcomes: dict[str, tuple[tuple[Any, str], ...]] = {}
        for method in scoped:
            field = resource_field(method)
            assert field is not None
            other = await call(
                h, method, build(method, field, target(method, world, whose="other")), RM_A
            )
            ghost = await call(
                h, method, build(method, field, target(method, world, whose="ghost")), RM_A
            )
            own = await call(
                h, method, build(method, field, target(method, world, whose="own")), RM_A
            )
            outcomes[method.name] = (other, ghost, own)
        cross_owner = [
            name
            for name, (other, ghost, _) in outcomes.items()
            if grpc.StatusCode.OK in (other[0], ghost[0])
        ]
        with capsys.disabled():
            print(
                f"\nBOLA matrix, ClientService: cross-owner successes "
                f"{len(cross_owner)}/{len(outcomes)} methods x 2 foreign ids"
            )
        assert cross_owner == []
        denied = (grpc.StatusCode.PERMISSION_DENIED, "the caller may not access this client")
        # The same answer for B's resource and a nonexistent one: no existence oracle.
        assert {n: o[:2] for n, o in outcomes.items()} == dict.fromkeys(outcomes, (denied, denied))
        ok = (grpc.StatusCode.OK, "")
        assert {n: o[2] for n, o in outcomes.items()} == dict.fromkeys(outcomes, ok)
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
