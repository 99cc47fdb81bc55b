"""Credit groups end to end: the client service records a group and guarantees, its events
reach the risk service through the outbox relay, and risk reports exposure, circles and
contagion (issue 16's first must-show).

The world: group 华信 with members A-E; a guarantee chain of four, A→X1→X2→X3→X4 (A
guarantees X1, ...), and X4→X2 closing one circle {X2, X3, X4}. A is downgraded to B- with
the default depth of 2: B-E (fellow members) and X1 (guaranteed by A) are one step away, X2
two steps (via X1); X3 and X4 are three steps away and get no contagion warning.
"""

from __future__ import annotations

import asyncio
import time

import grpc
from client_harness import a_client, client_service, create_request, money
from google.type import date_pb2
from risk_harness import a_facility, a_statement, cny, request_id, risk_service
from sqlalchemy import select

from crm.client.v1 import client_pb2
from crm.client.v1 import client_service_pb2 as csvc
from crm.risk.v1 import portfolio_pb2, rating_pb2, risk_service_pb2, warning_pb2
from crm_client.domain.credit_code import make_credit_code
from crm_risk.models import ClientFactRow

START = date_pb2.Date(year=2026, month=1, day=1)
BILLION = 1_000_000_000


async def until(check, what: str, seconds: float = 30.0):
    """Poll `check` until it returns something truthy."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            value = await check()
            if value:
                return value
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in (grpc.StatusCode.PERMISSION_DENIED,
                                  grpc.StatusCode.FAILED_PRECONDITION):
                raise
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def build_world(c) -> dict[str, str]:
    """Create the nine clients, the group of five and the guarantees; return names by label."""
    names = {}
    for i, label in enumerate(["A", "B", "C", "D", "E", "X1", "X2", "X3", "X4"]):
        code = make_credit_code("91440300", f"GE{i:06d}")
        names[label] = (await c.stub.CreateClient(create_request(a_client(code)),
                                                  metadata=c.rm())).name
    group = await c.stub.CreateGroup(csvc.CreateGroupRequest(
        group=client_pb2.Group(display_name="华信集团"), group_id="huaxin"), metadata=c.ops())
    for label in "ABCDE":
        await c.stub.CreateGroupMember(csvc.CreateGroupMemberRequest(
            parent=group.name, member=client_pb2.GroupMember(
                client=names[label], share_percent=51.0, valid_from=START,
                control_type=client_pb2.CONTROL_TYPE_EQUITY_CONTROL)), metadata=c.rm())
    for guarantor, beneficiary in [("A", "X1"), ("X1", "X2"), ("X2", "X3"), ("X3", "X4"),
                                   ("X4", "X2")]:
        await c.stub.CreateGuarantee(csvc.CreateGuaranteeRequest(
            parent=names[guarantor], guarantee=client_pb2.Guarantee(
                beneficiary=names[beneficiary], amount=money(BILLION), valid_from=START,
                guarantee_type=client_pb2.GUARANTEE_TYPE_JOINT_LIABILITY)), metadata=c.rm())
    return names


async def downgrade(r, client: str, to_grade: str) -> None:
    """Rate the client from a statement, then override the grade (proposer + approver)."""
    await r.stub.CreateFinancialStatement(risk_service_pb2.CreateFinancialStatementRequest(
        parent=client, statement=a_statement(2025)), metadata=r.system())
    rating = await r.stub.RateClient(risk_service_pb2.RateClientRequest(client=client),
                                     metadata=r.officer())
    proposal = await r.stub.ProposeRatingOverride(risk_service_pb2.ProposeRatingOverrideRequest(
        parent=client, rating_override=rating_pb2.RatingOverride(
            rating=rating.name, to_grade=to_grade,
            reason="controlling shareholder in default on bonds; cash pooled with the group"),
        request_id=request_id()), metadata=r.officer())
    await r.stub.ApproveRatingOverride(risk_service_pb2.ApproveRatingOverrideRequest(
        name=proposal.name, comment="agreed"), metadata=r.approver())


async def contagion_warnings(r, client: str) -> list[warning_pb2.Warning]:
    listed = await r.stub.ListWarnings(risk_service_pb2.ListWarningsRequest(
        client=client, source=warning_pb2.WARNING_SOURCE_CONTAGION), metadata=r.officer())
    return list(listed.warnings)


async def test_group_circle_contagion_and_concentration(tmp_path, identity):
    """Circle reported and warned; a downgrade warns exactly the clients within depth 2, each
    naming the source and its path; the concentration report and the what-if show the
    group's exposure, limit and headroom, and name a breaching facility as such."""
    async with risk_service(f"sqlite+aiosqlite:///{tmp_path}/risk.db", identity) as r, \
            client_service(f"sqlite+aiosqlite:///{tmp_path}/client.db", identity,
                           subscribers=f"risk={r.running.address}") as c:
        ids = await build_world(c)

        async def circle_known():
            found = await r.stub.ListGuaranteeCircles(
                risk_service_pb2.ListGuaranteeCirclesRequest(), metadata=r.officer())
            return list(found.circles)

        circles = await until(circle_known, "the guarantee circle at risk")
        for label in "ABCDE":
            await r.stub.CreateFacility(risk_service_pb2.CreateFacilityRequest(
                parent=ids[label], facility=a_facility(amount=cny(BILLION)),
                request_id=request_id()), metadata=r.system())
        circle_warned = {label: [w.rule for w in (await r.stub.ListWarnings(
            risk_service_pb2.ListWarningsRequest(
                client=ids[label], source=warning_pb2.WARNING_SOURCE_GUARANTEE_CIRCLE),
            metadata=r.officer())).warnings] for label in ["X1", "X2", "X3", "X4"]}

        await downgrade(r, ids["A"], "B-")
        linked = {label: await contagion_warnings(r, name) for label, name in ids.items()}
        async with r.ctx.db.read() as session:
            facts = (await session.execute(select(ClientFactRow))).scalars()
            reviews = {f.client_id: f.rerate_reason for f in facts
                       if f.rerate_requested and f.rerate_reason.startswith("contagion")}
        report = await r.stub.GetConcentrationReport(
            risk_service_pb2.GetConcentrationReportRequest(), metadata=r.officer())
        what_if = await r.stub.EvaluateProposedFacility(
            risk_service_pb2.EvaluateProposedFacilityRequest(
                client=ids["B"], amount=cny(2 * BILLION)), metadata=r.officer())

    assert [list(c.clients) for c in circles] == [sorted([ids["X2"], ids["X3"], ids["X4"]])]
    assert circles[0].amount.units == 3 * BILLION and len(circles[0].guarantees) == 3
    assert circle_warned == {"X1": [], "X2": ["guarantee_circle"],
                             "X3": ["guarantee_circle"], "X4": ["guarantee_circle"]}

    warned = {label for label, found in linked.items() if found}
    assert warned == {"B", "C", "D", "E", "X1", "X2"}
    for label in warned:
        (warning,) = linked[label]
        assert warning.rule == "contagion"
        assert f"contagion from {ids['A']}" in warning.summary
        assert ids[label] in warning.summary
    assert linked["X2"][0].level == warning_pb2.WARNING_LEVEL_YELLOW
    assert f"{ids['A']} → {ids['X1']} → {ids['X2']}" in linked["X2"][0].summary
    assert linked["B"][0].level == warning_pb2.WARNING_LEVEL_ORANGE
    # Each linked client asks for an event-triggered re-rating naming the source.
    assert {f"clients/{c}" for c in reviews} == {ids[label] for label in warned}
    assert set(reviews.values()) == {f"contagion from {ids['A']}"}

    (group,) = [g for g in report.group_exposures if g.group == "groups/huaxin"]
    assert group.member_exposure.units == 5 * BILLION
    assert group.guaranteed_exposure.units == BILLION  # A for X1, outside the group
    assert group.exposure.units == 6 * BILLION
    assert group.limit.units == 7_500_000_000  # 15 % of the default 50 bn net capital
    assert group.headroom.units == 1_500_000_000
    assert not group.breached and group.near_limit
    (breach,) = [u for u in what_if.breaches
                 if u.dimension == portfolio_pb2.CONCENTRATION_DIMENSION_GROUP]
    assert (breach.key, breach.reason) == ("groups/huaxin", "GROUP_LIMIT_BREACH")
    assert what_if.would_breach
