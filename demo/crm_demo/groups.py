"""Demo step: a credit group, a guarantee circle, a contagion and a frozen limit.

The business registry (a bank system) records group 华信控股 with five of the demo's clients
(A-E) and a guarantee chain of four among other clients, A→X1→X2→X3→X4, with X4→X2 closing
a circle. Risk learns of both through the client service's events. Then another bank reports
that A defaulted (a cross-default, RED): the warning spreads to the clients within the
configured chain depth, each naming A and the path; A's undrawn limits freeze, so core
banking's next drawdown is refused until two different risk officers lift the freeze.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

import grpc
from google.rpc import error_details_pb2
from google.type import date_pb2, money_pb2
from grpc_status import rpc_status

from crm.client.v1 import client_pb2, client_service_pb2_grpc
from crm.client.v1 import client_service_pb2 as csvc
from crm.risk.v1 import (
    facility_pb2,
    playbook_pb2,
    risk_service_pb2,
    risk_service_pb2_grpc,
    warning_pb2,
)
from crm_demo.launcher import Service
from crm_demo.loader import LoadResult
from crm_demo.portfolio import PortfolioClient
from crm_demo.risk_ready import once_known
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit

T = TypeVar("T")
LABELS = ("A", "B", "C", "D", "E", "X1", "X2", "X3", "X4")
CHAIN = (("A", "X1"), ("X1", "X2"), ("X2", "X3"), ("X3", "X4"), ("X4", "X2"))
GUARANTEE_YUAN = 100_000_000
FACILITY_YUAN = 200_000_000
START = date_pb2.Date(year=2026, month=1, day=1)


def _cny(yuan: int) -> money_pb2.Money:
    return money_pb2.Money(currency_code="CNY", units=yuan)


def _rid() -> str:
    return str(uuid.uuid4())


async def _until(check: Callable[[], Awaitable[T]], what: str, seconds: float = 300.0) -> T:
    """Poll until `check` returns something truthy (events travel through the outbox).

    Minutes, not seconds, at most: the registry's events queue behind the book's own (per
    subscriber 1,200 ClientCreated and about 2,700 SegmentMembershipChanged, then the
    ratings' round trips). On a quiet machine they are through in seconds; on a shared
    two-core machine at load 40, 500 were still queued for risk four minutes in.
    """
    deadline = time.monotonic() + seconds
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def _record_group(stub: client_service_pb2_grpc.ClientServiceStub,
                        ids: dict[str, str], registry: tuple[tuple[str, str], ...]) -> str:
    group = await stub.CreateGroup(csvc.CreateGroupRequest(
        group=client_pb2.Group(display_name="华信控股集团"), group_id="demo-huaxin",
        request_id=_rid()), metadata=registry)
    for label in "ABCDE":
        await stub.CreateGroupMember(csvc.CreateGroupMemberRequest(
            parent=group.name, request_id=_rid(), member=client_pb2.GroupMember(
                client=ids[label], share_percent=51.0 if label != "A" else 100.0,
                valid_from=START, control_type=client_pb2.CONTROL_TYPE_EQUITY_CONTROL)),
            metadata=registry)
    for guarantor, beneficiary in CHAIN:
        await stub.CreateGuarantee(csvc.CreateGuaranteeRequest(
            parent=ids[guarantor], request_id=_rid(), guarantee=client_pb2.Guarantee(
                beneficiary=ids[beneficiary], amount=_cny(GUARANTEE_YUAN), valid_from=START,
                guarantee_type=client_pb2.GUARANTEE_TYPE_JOINT_LIABILITY)), metadata=registry)
    return str(group.name)


def _reason(error: grpc.aio.AioRpcError) -> str:
    """Return the machine-readable reason (google.rpc.ErrorInfo) of a refused call."""
    status = rpc_status.from_call(error)
    for detail in status.details if status is not None else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return str(info.reason)
    return ""


def _facility() -> facility_pb2.Facility:
    today = datetime.now(UTC).date()
    return facility_pb2.Facility(
        facility_type=facility_pb2.FACILITY_TYPE_WORKING_CAPITAL, amount=_cny(FACILITY_YUAN),
        term_months=12, purpose_category=facility_pb2.PURPOSE_CATEGORY_OPERATING_TURNOVER,
        drawdown_account="6228000099990001",
        start_date=date_pb2.Date(year=today.year, month=today.month, day=today.day))


def _drawdown(facility: str, yuan: int) -> risk_service_pb2.RecordFacilityEventRequest:
    today = datetime.now(UTC).date()
    return risk_service_pb2.RecordFacilityEventRequest(
        parent=facility, request_id=_rid(), event=facility_pb2.FacilityEvent(
            event_type=facility_pb2.FACILITY_EVENT_TYPE_DRAWDOWN, amount=_cny(yuan),
            effective_date=date_pb2.Date(year=today.year, month=today.month, day=today.day)))


async def _frozen_limit(stub: risk_service_pb2_grpc.RiskServiceStub, client: str,
                        facility: str, identity: IdentityKit) -> dict[str, object]:
    """Draw on A's facility: refused while frozen, accepted after a four-eyes lift."""
    core = identity.metadata("systems/core-banking", Role.SYSTEM)
    first = identity.metadata("staff/risk-officer-demo", Role.RISK_OFFICER)
    second = identity.metadata("staff/risk-officer-2", Role.RISK_OFFICER)
    try:
        await stub.RecordFacilityEvent(_drawdown(facility, 5_000_000), metadata=core)
        refused = ""
    except grpc.aio.AioRpcError as exc:
        refused = f"{exc.code().name} {_reason(exc)}"
    actions = await stub.ListPlaybookActions(
        risk_service_pb2.ListPlaybookActionsRequest(parent=client), metadata=first)
    freeze = next(a for a in actions.playbook_actions
                  if a.kind == playbook_pb2.PLAYBOOK_ACTION_KIND_FREEZE_LIMITS)
    await stub.RequestLimitLift(risk_service_pb2.RequestLimitLiftRequest(
        name=freeze.name, reason="the other bank confirms the arrears are cured",
        request_id=_rid()), metadata=first)
    await stub.ApproveLimitLift(risk_service_pb2.ApproveLimitLiftRequest(
        name=freeze.name, comment="confirmation checked", request_id=_rid()), metadata=second)
    accepted = await stub.RecordFacilityEvent(_drawdown(facility, 5_000_000), metadata=core)
    print(f"  frozen limit: A's drawdown refused ({refused}); lift requested by "
          "staff/risk-officer-demo, approved by staff/risk-officer-2; the same drawdown "
          f"then accepted ({accepted.name})")
    return {"refused": refused, "accepted_after_lift": bool(accepted.name)}


async def run(risk: Service, client: Service, identity: IdentityKit,
              portfolio: Sequence[PortfolioClient], loaded: LoadResult) -> dict[str, object]:
    """Record the group and guarantees, let one member default, and show what follows."""
    ids = dict(zip(LABELS, (loaded.names[p.index] for p in portfolio[-len(LABELS):]),
                   strict=True))
    registry = identity.metadata("systems/business-registry", Role.SYSTEM)
    officer = identity.metadata("staff/risk-officer-demo", Role.RISK_OFFICER)
    print("\n== Credit groups, guarantee circles and contagion")
    async with grpc.aio.insecure_channel(client.address) as c_channel, \
            grpc.aio.insecure_channel(risk.address) as r_channel:
        clients = client_service_pb2_grpc.ClientServiceStub(c_channel)
        stub = risk_service_pb2_grpc.RiskServiceStub(r_channel)
        group = await _record_group(clients, ids, registry)
        facilities = {}
        for label in "ABCDE":
            request = risk_service_pb2.CreateFacilityRequest(
                parent=ids[label], facility=_facility(), request_id=_rid())
            created = await once_known(partial(stub.CreateFacility, request, metadata=registry))
            facilities[label] = created.name

        async def circles() -> list[list[str]]:
            found = await stub.ListGuaranteeCircles(
                risk_service_pb2.ListGuaranteeCirclesRequest(), metadata=officer)
            return [list(c.clients) for c in found.circles if ids["X2"] in c.clients]

        (circle,) = await _until(circles, "the guarantee circle")
        label_of = {name: label for label, name in ids.items()}
        print(f"  {group}: members A-E; guarantee chain A→X1→X2→X3→X4, X4→X2 closes a circle")
        print("  " + ", ".join(f"{label} {name}" for label, name in ids.items()))
        print(f"  circle reported: {', '.join(sorted(label_of[c] for c in circle))}")
        red = await stub.RecordExternalSignal(risk_service_pb2.RecordExternalSignalRequest(
            client=ids["A"], request_id=_rid(), signal=warning_pb2.ExternalSignal(
                signal_type=warning_pb2.EXTERNAL_SIGNAL_TYPE_CROSS_DEFAULT,
                summary="overdue 90 days on a loan at another bank")), metadata=officer)

        async def linked(label: str) -> list[str]:
            found = await stub.ListWarnings(risk_service_pb2.ListWarningsRequest(
                client=ids[label], source=warning_pb2.WARNING_SOURCE_CONTAGION),
                metadata=officer)
            return [w.summary for w in found.warnings]

        contagion = {label: await linked(label) for label in LABELS if label != "A"}
        warned = sorted(label for label, found in contagion.items() if found)
        print(f"  A RED ({red.rule}): contagion warnings on {', '.join(warned)} (depth 2); "
              f"X2's: {contagion['X2'][0] if contagion['X2'] else '-'}")
        report = await stub.GetConcentrationReport(
            risk_service_pb2.GetConcentrationReportRequest(), metadata=officer)
        exposure = next(g for g in report.group_exposures if g.group == group)
        print(f"  group exposure {exposure.exposure.units / 1e8:.1f} 亿 (members "
              f"{exposure.member_exposure.units / 1e8:.1f}, guaranteed "
              f"{exposure.guaranteed_exposure.units / 1e8:.1f}); limit "
              f"{exposure.limit.units / 1e8:.1f} 亿, "
              f"headroom {exposure.headroom.units / 1e8:.1f} 亿")
        frozen = await _frozen_limit(stub, ids["A"], facilities["A"], identity)
    return {"group": group, "circle": circle, "contagion": warned,
            "group_exposure_yuan": exposure.exposure.units,
            "group_headroom_yuan": exposure.headroom.units, **frozen}
