"""Contagion from a red warning and the configured depth, on risk's copy of the graph (the
client service's events delivered to the inbox directly)."""

from __future__ import annotations

from risk_harness import a_facility, request_id, risk_service

from crm.events.v1 import client_events_pb2 as ev
from crm.risk.v1 import facility_pb2, risk_service_pb2, warning_pb2


async def world(h) -> None:
    """Group g = {m1, m2}; guarantees m2→x1 and x1→x2 (m2 guarantees x1, x1 guarantees x2)."""
    for client in ("m1", "m2", "x1", "x2", "x3"):
        await h.known_client(client)
    await h.deliver(ev.GroupRecorded(group="groups/g", display_name="华信"))
    for n, client in enumerate(("m1", "m2")):
        await h.deliver(ev.GroupMembershipChanged(
            group="groups/g", member=f"groups/g/members/{n}", client=f"clients/{client}",
            control_type="equity_control", share_percent=51))
    for n, (a, b) in enumerate((("m2", "x1"), ("x1", "x2"))):
        await h.deliver(ev.GuaranteeRecorded(
            guarantee=f"clients/{a}/guarantees/{n}", guarantor=f"clients/{a}",
            beneficiary=f"clients/{b}", amount_cny="1000000.00",
            guarantee_type="joint_liability"))


async def red_signal(h, client: str) -> None:
    await h.stub.RecordExternalSignal(risk_service_pb2.RecordExternalSignalRequest(
        client=client, signal=warning_pb2.ExternalSignal(
            signal_type=warning_pb2.EXTERNAL_SIGNAL_TYPE_TAX_ARREARS,
            level=warning_pb2.WARNING_LEVEL_RED, summary="bank accounts frozen by court",
            source_system="court")), metadata=h.officer())


async def linked(h) -> dict[str, str]:
    listed = await h.stub.ListWarnings(risk_service_pb2.ListWarningsRequest(
        source=warning_pb2.WARNING_SOURCE_CONTAGION, page_size=100), metadata=h.officer())
    return {w.client: w.summary for w in listed.warnings}


async def test_a_red_warning_spreads_within_the_configured_depth(store_url, identity):
    """Depth 2: m1's red warning reaches m2 (same group) and x1 (guaranteed by m2), not x2;
    an ended guarantee no longer carries it; x3, unrelated, is never warned."""
    async with risk_service(store_url, identity) as h:
        await world(h)
        await red_signal(h, "clients/m1")
        first = await linked(h)
        await h.deliver(ev.GuaranteeEnded(guarantee="clients/m2/guarantees/0",
                                          guarantor="clients/m2", beneficiary="clients/x1"))
        await red_signal(h, "clients/m2")
        second = await linked(h)
    assert sorted(first) == ["clients/m2", "clients/x1"]
    assert "clients/m1 → clients/m2 → clients/x1" in first["clients/x1"]
    assert "red warning" in first["clients/m2"]
    assert sorted(second) == ["clients/m1", "clients/m2", "clients/x1"]  # m1 from m2 now


async def test_depth_one_reaches_only_direct_relations(store_url, identity):
    """CONTAGION_DEPTH=1: only m2, the fellow member."""
    async with risk_service(store_url, identity, contagion_depth=1) as h:
        await world(h)
        await red_signal(h, "clients/m1")
        found = await linked(h)
    assert list(found) == ["clients/m2"]


async def test_a_defaulting_guarantor_spreads_to_the_clients_it_guarantees(store_url, identity):
    """x1's facility goes 91 days past due (substandard, non-performing): x2, which x1
    guarantees, and m2, x1's guarantor, are warned; so is m1, two steps away via m2."""
    async with risk_service(store_url, identity) as h:
        await world(h)
        loan = await h.stub.CreateFacility(risk_service_pb2.CreateFacilityRequest(
            parent="clients/x1", facility=a_facility(), request_id=request_id()),
            metadata=h.system())
        await h.stub.RecordFacilityEvent(risk_service_pb2.RecordFacilityEventRequest(
            parent=loan.name, event=facility_pb2.FacilityEvent(
                event_type=facility_pb2.FACILITY_EVENT_TYPE_PAST_DUE, days_past_due=91,
                effective_date=loan.start_date)), metadata=h.system())
        found = await linked(h)
    assert sorted(found) == ["clients/m1", "clients/m2", "clients/x2"]
    assert all("facility non-performing" in summary for summary in found.values())


async def test_a_red_warning_from_the_monitoring_stream_spreads_too(store_url, identity):
    """Loan money traced back to m1 (a round trip of most of a small facility) is RED: the
    stream's warning reaches m2 and x1 like any other red warning, and freezes m1's limits."""
    from risk_harness import cny, round_trip, stream

    async with risk_service(store_url, identity) as h:
        await world(h)
        loan = await h.stub.CreateFacility(risk_service_pb2.CreateFacilityRequest(
            parent="clients/m1", facility=a_facility(amount=cny(5_000_000)),
            request_id=request_id()), metadata=h.system())
        await stream(h.stub, [round_trip("m1", loan.name)], h.system())
        own = await h.stub.ListWarnings(risk_service_pb2.ListWarningsRequest(
            client="clients/m1", source=warning_pb2.WARNING_SOURCE_TRANSACTIONS),
            metadata=h.officer())
        found = await linked(h)
    assert [w.level for w in own.warnings] == [warning_pb2.WARNING_LEVEL_RED]
    assert sorted(found) == ["clients/m2", "clients/x1"]
    assert "contagion from clients/m1" in found["clients/x1"]
