"""BOLA matrix (RELIABILITY §7.17): every RPC of RiskService, generated from its descriptor.

The scaffolding and what the matrix asserts are in bola_support. Here: a method is
object-scoped when its request names a client's resource (`name`, `parent`, `client`, or
`<resource>.name` in an update), and the method's HTTP binding says which kind of resource
(clients/*, clients/*/facilities/*, warnings/*, ...). Methods a relationship manager may not
call at all have no RM-level BOLA; they are listed with their reason and checked to refuse
RM A by role, whoever's resource is named.

The matrix runs twice: on a client that was always B's, and on one handed over from A to B
(A must keep nothing of it, not even the warnings A closed while it was theirs). Lists are
checked for B's rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bola_support import (
    assert_refused_by_role,
    build_request,
    call,
    check_classified,
    run_matrix,
)
from bola_support import resource_field as named_field
from google.api import annotations_pb2
from google.protobuf import message
from risk_harness import RM_A, RM_B, a_facility, a_statement, risk_service

from crm.events.v1 import client_events_pb2
from crm.risk.v1 import facility_pb2, monitoring_pb2, rating_pb2, risk_service_pb2, warning_pb2

SERVICE = risk_service_pb2.DESCRIPTOR.services_by_name["RiskService"]
GHOST_ID = "00000000000000000000000000000000"
COLLECTIONS = ("clients", "facilities", "statements", "ratings", "ratingOverrides", "warnings",
               "playbookActions")
DENIED = "CLIENT_ACCESS_DENIED"
ROLE_REFUSED = "function-level: RMs refused by role"

# Methods whose request names no client-owned resource, or that a relationship manager may not
# call at all, each with the reason it is safe; every other method must name a client's resource.
NOT_OBJECT_SCOPED = {
    "CreateFacility": f"{ROLE_REFUSED} (system, ops, risk officer, credit approver)",
    "BatchCreateFacilities": f"{ROLE_REFUSED} (system, ops, risk officer, credit approver)",
    "RecordFacilityEvent": f"{ROLE_REFUSED} (system, ops, risk officer, credit approver)",
    "ReviewClassification": f"{ROLE_REFUSED} (system, ops, risk officer, credit approver)",
    "RateClient": f"{ROLE_REFUSED} (system, risk officer, credit approver)",
    "BatchRateClients": f"{ROLE_REFUSED} (system, risk officer, credit approver)",
    "ApproveRatingOverride": f"{ROLE_REFUSED} (credit approvers only)",
    "RejectRatingOverride": f"{ROLE_REFUSED} (credit approvers only)",
    "UpdateMonitoringProfile": f"{ROLE_REFUSED} (system, ops, risk officer)",
    "DismissWarning": f"{ROLE_REFUSED} (risk officers only)",
    "EvaluateProposedFacility": f"{ROLE_REFUSED}: portfolio roles only",
    "GetConcentrationReport": f"{ROLE_REFUSED}: portfolio roles only",
    "ListGuaranteeCircles": f"{ROLE_REFUSED}: portfolio roles only",
    "MonitorTransactions": f"{ROLE_REFUSED}: bank systems only (transaction stream)",
    "UpdateMonitoringRuleset": f"{ROLE_REFUSED}: bank-wide configuration (risk officers)",
    "BacktestMonitoringRuleset": f"{ROLE_REFUSED}: bank-wide configuration (risk officers)",
    "GetMonitoringRuleset": "the rule set is bank-wide configuration, not client data",
    "ListWarnings": "a list (the client is only a filter): checked below for B's rows",
    "RequestLimitLift": f"{ROLE_REFUSED} (risk officers only)",
    "ApproveLimitLift": f"{ROLE_REFUSED} (risk officers only)",
    "SetProjectPlan": f"{ROLE_REFUSED} (system, ops, risk officer, credit approver)",
    "RecordProjectProgress": f"{ROLE_REFUSED} (system, ops, risk officer, credit approver)",
}


@dataclass(frozen=True)
class Owned:
    """One owner's resources: the id in each collection, as resource names are built."""

    ids: dict[str, str]

    def name(self, pattern: str) -> str:
        """Return the resource name of `pattern` (e.g. clients/*/facilities/*) for these ids."""
        parts = pattern.split("/")
        return "/".join(self.ids[parts[i - 1]] if p == "*" else p for i, p in enumerate(parts))


GHOST = Owned(dict.fromkeys(COLLECTIONS, GHOST_ID))


@dataclass(frozen=True)
class World:
    """RM A's resources and RM B's."""

    own: Owned
    other: Owned


def binding(method: Any) -> tuple[str, str] | None:
    """Return the (field, resource pattern) of the method's HTTP binding, or None."""
    rule = method.GetOptions().Extensions[annotations_pb2.http]
    kind = rule.WhichOneof("pattern")
    found = re.search(r"\{([a-z_.]+)=([^}]+)\}", getattr(rule, kind) if kind else "")
    return (found[1], found[2]) if found else None


def pattern_of(method: Any) -> str | None:
    """Return the pattern of the resource the method names (a bare `client` is a client)."""
    found = binding(method)
    if found is not None:
        return found[1]
    return "clients/*" if resource_field(method) == "client" else None


def resource_field(method: Any) -> str | None:
    """Return the request field (dotted) that names the resource, or None.

    Besides the usual fields, a custom method on a nested resource names it through its HTTP
    binding (ruleset.name).
    """
    found = named_field(method)
    if found is not None:
        return found
    bound = binding(method)
    return bound[0] if bound is not None and "." in bound[0] else None


def scoped_methods() -> list[Any]:
    """Return the object-scoped methods in descriptor order."""
    return [
        m
        for m in SERVICE.methods
        if resource_field(m) is not None and m.name not in NOT_OBJECT_SCOPED
    ]


def role_refused_methods() -> list[Any]:
    """Return the methods a relationship manager may not call at all."""
    return [
        m for m in SERVICE.methods if NOT_OBJECT_SCOPED.get(m.name, "").startswith(ROLE_REFUSED)
    ]


def target(method: Any, world: World, *, whose: str) -> str:
    """Return the resource name of the kind `method` takes: A's, B's or a nonexistent one."""
    pattern = pattern_of(method)
    assert pattern is not None
    owned = {"own": world.own, "other": world.other, "ghost": GHOST}[whose]
    return owned.name(pattern)


def signal(summary: str = "lawsuit over unpaid supplier invoices") -> warning_pb2.ExternalSignal:
    return warning_pb2.ExternalSignal(
        signal_type=warning_pb2.EXTERNAL_SIGNAL_TYPE_LITIGATION, summary=summary
    )


def override(owned: Owned) -> rating_pb2.RatingOverride:
    """Return a proposal to move the owner's rating in force down to CCC-C."""
    return rating_pb2.RatingOverride(
        rating=owned.name("clients/*/ratings/*"),
        to_grade="CCC-C",
        reason="the parent group defaulted on its bonds; the model has not seen it yet",
    )


# Whatever else a valid request of the method needs besides its resource name.
BODIES: dict[str, Callable[[Any, Owned], None]] = {
    "CreateFinancialStatement": lambda r, o: r.statement.CopyFrom(a_statement(2023)),
    "ProposeRatingOverride": lambda r, o: r.rating_override.CopyFrom(override(o)),
    "RecordExternalSignal": lambda r, o: r.signal.CopyFrom(signal("tax arrears notice")),
    "AcknowledgeWarning": lambda r, o: setattr(r, "comment", "calling the client today"),
    "ResolveWarning": lambda r, o: setattr(r, "reason", "judgement paid, case withdrawn"),
}


def request_for(method: Any, world: World, *, whose: str) -> message.Message:
    """Return the method's request naming A's, B's or a nonexistent resource."""
    owned = {"own": world.own, "other": world.other, "ghost": GHOST}[whose]
    body = BODIES.get(method.name, lambda r, o: None)
    return build_request(
        method,
        resource_field(method),
        target(method, world, whose=whose),
        lambda request: body(request, owned),
    )


async def seed_client(h: Any, client_id: str, rm: str) -> Owned:
    """Make a client of `rm` with a facility (and an event), a statement, a rating, a pending
    override, a monitoring profile and an open warning; each made by a role that may."""
    client = await h.known_client(client_id, rm=rm)
    facility = await h.stub.CreateFacility(
        risk_service_pb2.CreateFacilityRequest(parent=client, facility=a_facility()),
        metadata=h.system(),
    )
    await h.stub.RecordFacilityEvent(
        risk_service_pb2.RecordFacilityEventRequest(
            parent=facility.name,
            event=facility_pb2.FacilityEvent(
                event_type=facility_pb2.FACILITY_EVENT_TYPE_DRAWDOWN,
                amount=facility.amount,
                effective_date=facility.start_date,
            ),
        ),
        metadata=h.system(),
    )
    statement = await h.stub.CreateFinancialStatement(
        risk_service_pb2.CreateFinancialStatementRequest(parent=client, statement=a_statement()),
        metadata=h.rm(rm),
    )
    rating = await h.stub.RateClient(
        risk_service_pb2.RateClientRequest(client=client), metadata=h.officer()
    )
    assert rating.grade != "CCC-C"
    ids = {
        "clients": client_id,
        "facilities": facility.name.rsplit("/", 1)[1],
        "statements": statement.name.rsplit("/", 1)[1],
        "ratings": rating.name.rsplit("/", 1)[1],
    }
    proposal = await h.stub.ProposeRatingOverride(
        risk_service_pb2.ProposeRatingOverrideRequest(
            parent=client, rating_override=override(Owned(ids))
        ),
        metadata=h.rm(rm),
    )
    await h.stub.UpdateMonitoringProfile(
        risk_service_pb2.UpdateMonitoringProfileRequest(
            profile=monitoring_pb2.MonitoringProfile(
                name=f"{client}/monitoringProfile", own_accounts=["6228000011112222"]
            )
        ),
        metadata=h.officer(),
    )
    warning = await h.stub.RecordExternalSignal(
        risk_service_pb2.RecordExternalSignalRequest(client=client, signal=signal()),
        metadata=h.system(),
    )
    assert warning.owner == rm
    ids["ratingOverrides"] = proposal.name.rsplit("/", 1)[1]
    ids["warnings"] = warning.name.rsplit("/", 1)[1]
    # The (orange) litigation warning's playbook required a visit: the client's one action.
    (action,) = (await h.stub.ListPlaybookActions(
        risk_service_pb2.ListPlaybookActionsRequest(parent=client), metadata=h.officer()
    )).playbook_actions
    ids["playbookActions"] = action.name.rsplit("/", 1)[1]
    return Owned(ids)


async def seed(h: Any) -> World:
    """Create a client with its risk data for each RM."""
    return World(await seed_client(h, "c-bola-a", RM_A), await seed_client(h, "c-bola-b", RM_B))


async def seed_handed_over(h: Any) -> World:
    """Give A a client, let A close its warning, then hand the client over to B.

    B's resources are then those of the handed-over client, the warning being the one A
    resolved while the client was A's (a closed warning keeps the owner it had).
    """
    own = await seed_client(h, "c-bola-a", RM_A)
    moved = await seed_client(h, "c-bola-moved", RM_A)
    warning = f"warnings/{moved.ids['warnings']}"
    for rpc, request in (
        ("AcknowledgeWarning", risk_service_pb2.AcknowledgeWarningRequest(name=warning)),
        (
            "ResolveWarning",
            risk_service_pb2.ResolveWarningRequest(name=warning, reason="judgement paid"),
        ),
    ):
        await getattr(h.stub, rpc)(request, metadata=h.rm(RM_A))
    await h.deliver(
        client_events_pb2.ClientAssigned(
            client="clients/c-bola-moved",
            relationship_manager=RM_B,
            previous_relationship_manager=RM_A,
            reason="portfolio rebalancing",
        )
    )
    return World(own, moved)


async def snapshot(h: Any, world: World) -> dict[str, message.Message]:
    """Return what an officer reads of B's resources through every object-scoped read."""
    reads = [m for m in scoped_methods() if m.name.startswith(("Get", "List"))]
    found: dict[str, message.Message] = {}
    for method in reads:
        request = request_for(method, world, whose="other")
        found[method.name] = await getattr(h.stub, method.name)(request, metadata=h.officer())
    found["ListWarnings"] = await h.stub.ListWarnings(
        risk_service_pb2.ListWarningsRequest(client=world.other.name("clients/*")),
        metadata=h.officer(),
    )
    return found


async def check_matrix(h: Any, world: World, label: str, capsys: Any) -> None:
    """Call every object-scoped method as RM A with B's, a nonexistent and A's own resource."""
    before = await snapshot(h, world)
    scoped = scoped_methods()
    assert len(scoped) >= 15
    await run_matrix(
        f"RiskService{label}",
        scoped,
        request_for=lambda method, whose: request_for(method, world, whose=whose),
        call_as_a=lambda method, request: call(h.stub, method, request, h.rm(RM_A)),
        reason_for=lambda method: DENIED,
        capsys=capsys,
    )
    assert await snapshot(h, world) == before


def test_every_method_is_classified():
    """A method that names no resource must be listed with its reason (new RPCs fail here);
    an object-scoped method's HTTP binding names the same field, so its kind is known."""
    check_classified(SERVICE, resource_field, NOT_OBJECT_SCOPED)
    unbound = [m.name for m in scoped_methods() if (binding(m) or ("", ""))[0] != resource_field(m)]
    assert unbound == []
    # Every object-scoped resource is built from ids the seed makes (GHOST has all kinds).
    assert all(GHOST.name(binding(m)[1]) for m in scoped_methods())


async def test_bola_matrix(store_url, identity, capsys):
    """RM A gets the same PERMISSION_DENIED for B's resources and for nonexistent ones, on
    every object-scoped method, while the same request on A's own resource succeeds."""
    async with risk_service(store_url, identity) as h:
        await check_matrix(h, await seed(h), "", capsys)


async def test_bola_matrix_on_a_client_handed_over(store_url, identity, capsys):
    """Once a client is reassigned from A to B, A gets the same PERMISSION_DENIED for all of
    its risk data, including the warning A closed while the client was A's."""
    async with risk_service(store_url, identity) as h:
        await check_matrix(h, await seed_handed_over(h), " (client handed over A->B)", capsys)


async def test_rm_is_refused_by_role_whoever_owns_the_resource(store_url, identity):
    """Methods an RM may not call refuse RM A by role, with one answer for A's own, B's and a
    nonexistent resource (no ownership is revealed before the role check)."""
    async with risk_service(store_url, identity) as h:
        world = await seed(h)
        answers: dict[str, set[Any]] = {}
        for method in role_refused_methods():
            if pattern_of(method) is None:
                request = build_request(method, None, "", BODIES.get(method.name))
                answers[method.name] = {await call(h.stub, method, request, h.rm(RM_A))}
                continue
            answers[method.name] = {
                await call(h.stub, method, request_for(method, world, whose=whose), h.rm(RM_A))
                for whose in ("own", "other", "ghost")
            }
        assert len(answers) == 20
        assert_refused_by_role(answers)


async def test_lists_never_include_the_other_managers_rows(store_url, identity):
    """Every list RM A may call shows A's rows and none of B's; ListWarnings without a client
    filter shows only A's clients' warnings, and filtered by B's client (or a nonexistent
    one) shows nothing."""
    async with risk_service(store_url, identity) as h:
        world = await seed(h)
        foreign = set(world.other.ids.values())
        lists = [m for m in scoped_methods() if m.name.startswith("List")]
        assert len(lists) >= 5
        for method in lists:
            reply = await getattr(h.stub, method.name)(
                request_for(method, world, whose="own"), metadata=h.rm(RM_A)
            )
            text = str(reply)
            assert world.own.ids["clients"] in text, method.name
            assert not [i for i in foreign if i in text], method.name
        everything = await h.stub.ListWarnings(
            risk_service_pb2.ListWarningsRequest(page_size=500), metadata=h.rm(RM_A)
        )
        assert {w.client for w in everything.warnings} == {world.own.name("clients/*")}
        for client in (world.other.name("clients/*"), GHOST.name("clients/*")):
            filtered = await h.stub.ListWarnings(
                risk_service_pb2.ListWarningsRequest(client=client), metadata=h.rm(RM_A)
            )
            assert list(filtered.warnings) == []
        seen_by_b = await h.stub.ListWarnings(
            risk_service_pb2.ListWarningsRequest(), metadata=h.rm(RM_B)
        )
        assert {w.client for w in seen_by_b.warnings} == {world.other.name("clients/*")}


async def test_lists_forget_a_client_handed_over(store_url, identity):
    """After a client moves from A to B, ListWarnings shows A none of its warnings, open or
    closed, and B all of them."""
    async with risk_service(store_url, identity) as h:
        world = await seed_handed_over(h)
        moved = world.other.name("clients/*")
        for request in (
            risk_service_pb2.ListWarningsRequest(page_size=500),
            risk_service_pb2.ListWarningsRequest(client=moved),
        ):
            reply = await h.stub.ListWarnings(request, metadata=h.rm(RM_A))
            assert moved not in {w.client for w in reply.warnings}
        of_b = await h.stub.ListWarnings(
            risk_service_pb2.ListWarningsRequest(client=moved), metadata=h.rm(RM_B)
        )
        assert f"warnings/{world.other.ids['warnings']}" in {w.name for w in of_b.warnings}
