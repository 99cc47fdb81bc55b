"""BacktestMonitoringRuleset: the report on a rule change matches what activating it produces.

A small labelled book from ``crm_sim`` (ordinary life, misuse in hard variants) is registered
through the API. The proposed change switches balance collapse off, makes red harder to reach
for securities and lowers the return share of round trips, so that the report has hits that
go, hits that change level and hits that stay. Each side of the report is then checked against
the warnings a service actually stores when it streams the same postings under that rule set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence

import grpc
import pytest
from google.protobuf import struct_pb2
from risk_harness import RiskHarness, risk_service

from crm.risk.v1 import monitoring_pb2, risk_service_pb2, warning_pb2
from crm_runtime.auth import Role
from crm_sim.monitoring.registration import register
from crm_sim.monitoring.service import messages
from crm_sim.monitoring.world import World, generate

LEVEL_RANK = {warning_pb2.WARNING_LEVEL_BLUE: 1, warning_pb2.WARNING_LEVEL_YELLOW: 2,
              warning_pb2.WARNING_LEVEL_ORANGE: 3, warning_pb2.WARNING_LEVEL_RED: 4}
Hits = dict[str, tuple[str, int]]  # client|rule|scope -> (rule, level)


def _override(rule: str, parameter: str, value: struct_pb2.Value,
              ) -> monitoring_pb2.RuleParameterOverride:
    return monitoring_pb2.RuleParameterOverride(rule=rule, parameter=parameter, value=value)


PROPOSED = monitoring_pb2.MonitoringRuleset(version="MON-2027.1", overrides=[
    _override("balance_collapse", "enabled", struct_pb2.Value(bool_value=False)),
    _override("securities_investment", "red_from", struct_pb2.Value(number_value=0.9)),
    _override("round_trip", "return_share", struct_pb2.Value(number_value=0.3)),
])


@pytest.fixture(scope="module")
def book() -> World:
    return generate(n_clients=30, seed=7, days=60)


async def _register(h: RiskHarness, world: World) -> dict[str, str]:
    return await register(
        h.stub, h.sink, world.clients, world.facilities, system=h.system(),
        client_relay=h.identity.metadata("systems/client-relay", Role.SYSTEM, kid="client"),
    )


async def _stream(h: RiskHarness, postings: Sequence[monitoring_pb2.MonitoredTransaction],
                  ) -> None:
    async def batches() -> AsyncIterator[risk_service_pb2.MonitorTransactionsRequest]:
        for number, start in enumerate(range(0, len(postings), 500)):
            yield risk_service_pb2.MonitorTransactionsRequest(
                batch_id=f"b{number}", transactions=postings[start:start + 500])

    async for ack in h.stub.MonitorTransactions(batches(), metadata=h.system()):
        assert not ack.HasField("error") and not ack.rejected


def _book_key(key: str, names: dict[str, str]) -> str:
    """Return a warning key with the book's facility id in place of a store's (facility ids
    are drawn per store, so two stores name the same facility differently)."""
    for synthetic, name in names.items():
        key = key.replace(name.rsplit("/", 1)[1], synthetic)
    return key


async def _stored_hits(h: RiskHarness, names: dict[str, str]) -> Hits:
    """Return each transaction warning's key with the highest level a signal gave it (the
    level before corroboration, as the back-test reports hits)."""
    found: Hits = {}
    token = ""
    while True:
        page = await h.stub.ListWarnings(risk_service_pb2.ListWarningsRequest(
            source=warning_pb2.WARNING_SOURCE_TRANSACTIONS, page_size=200, page_token=token),
            metadata=h.officer())
        for warning in page.warnings:
            level = max((s.level for s in warning.signals), key=LEVEL_RANK.__getitem__)
            found[_book_key(warning.dedupe_key, names)] = (warning.rule, level)
        token = page.next_page_token
        if not token:
            return found


def _counts(hits: Hits) -> Counter[tuple[str, int]]:
    return Counter(hits.values())


def _reported(counts: Sequence[monitoring_pb2.BacktestCount]) -> Counter[tuple[str, int]]:
    return Counter({(c.rule, c.level): c.hits for c in counts})


def _check_report(report: monitoring_pb2.MonitoringBacktest, before: Hits, after: Hits,
                  names: dict[str, str]) -> None:
    """The report's counts and changes are exactly those between two stored outcomes."""
    assert _reported(report.current) == _counts(before)
    assert _reported(report.proposed) == _counts(after)
    assert report.new_hits == len(after.keys() - before.keys())
    assert report.gone_hits == len(before.keys() - after.keys())
    changed = {k for k in before.keys() & after.keys() if before[k][1] != after[k][1]}
    assert report.level_changes == len(changed)
    assert report.unchanged_hits == len(before.keys() & after.keys()) - len(changed)
    listed = {(c.change, _book_key(c.dedupe_key, names)) for c in report.changes}
    assert listed == ({("new", k) for k in after.keys() - before.keys()}
                      | {("gone", k) for k in before.keys() - after.keys()}
                      | {("level_changed", k) for k in changed})


class TestBacktest:
    async def test_supplied_postings_report_what_activation_then_stores(
        self, store_url, tmp_path, identity, book
    ):
        """Back-test the change over the book's postings before any were streamed; activate it
        and stream them: the stored warnings are the report's proposed side. A second store
        streaming them under the rule set in force holds the report's current side."""
        async with risk_service(store_url, identity) as h:
            names = await _register(h, book)
            postings = messages(book.transactions, names)
            report = await h.stub.BacktestMonitoringRuleset(
                risk_service_pb2.BacktestMonitoringRulesetRequest(
                    ruleset=PROPOSED, transactions=postings, max_changes=1000),
                metadata=h.officer())
            await h.stub.UpdateMonitoringRuleset(
                risk_service_pb2.UpdateMonitoringRulesetRequest(ruleset=PROPOSED),
                metadata=h.officer())
            await _stream(h, postings)
            after = await _stored_hits(h, names)
            reported_names = names
        async with risk_service(f"sqlite+aiosqlite:///{tmp_path}/current.db", identity) as h:
            names = await _register(h, book)
            await _stream(h, messages(book.transactions, names))
            before = await _stored_hits(h, names)
        assert report.source == "supplied_postings" and report.postings == len(book.transactions)
        assert report.gone_hits and report.level_changes and report.unchanged_hits
        assert report.proposed_label.startswith("MON-2027.1+")
        _check_report(report, before, after, reported_names)

    async def test_stored_history_report_matches_a_store_that_ran_the_proposal(
        self, sqlite_url, tmp_path, identity, book
    ):
        """Stream the book under the rule set in force, then back-test the change over the
        stored history: the current side is what was stored, the proposed side what a fresh
        store with the change active stores from the same stream; nothing new is stored."""
        async with risk_service(sqlite_url, identity) as h:
            names = reported_names = await _register(h, book)
            await _stream(h, messages(book.transactions, names))
            before = await _stored_hits(h, names)
            report = await h.stub.BacktestMonitoringRuleset(
                risk_service_pb2.BacktestMonitoringRulesetRequest(
                    ruleset=PROPOSED, max_changes=1000),
                metadata=h.officer())
            assert await _stored_hits(h, names) == before
            assert h.ctx.monitoring().ruleset.label == "MON-2027.1"
        async with risk_service(f"sqlite+aiosqlite:///{tmp_path}/next.db", identity) as h:
            await h.stub.UpdateMonitoringRuleset(
                risk_service_pb2.UpdateMonitoringRulesetRequest(ruleset=PROPOSED),
                metadata=h.officer())
            names = await _register(h, book)
            await _stream(h, messages(book.transactions, names))
            after = await _stored_hits(h, names)
        assert report.source == "stored_history" and report.postings == len(book.transactions)
        assert report.first_booking_time.ToDatetime() <= report.last_booking_time.ToDatetime()
        _check_report(report, before, after, reported_names)

    async def test_a_relationship_manager_may_not_backtest(self, sqlite_url, identity):
        async with risk_service(sqlite_url, identity) as h:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.BacktestMonitoringRuleset(
                    risk_service_pb2.BacktestMonitoringRulesetRequest(ruleset=PROPOSED),
                    metadata=h.rm())
            assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
