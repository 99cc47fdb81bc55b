"""UpdateMonitoringProfile and UpdateMonitoringRuleset with an update_mask (AIP-134).

An empty mask keeps the behaviour clients had before masks existed: a full replace.
"""

from __future__ import annotations

import grpc
import pytest
from contract_support import details
from google.protobuf import field_mask_pb2, struct_pb2
from risk_harness import risk_service

from crm.risk.v1 import monitoring_pb2, risk_service_pb2

PERSON = monitoring_pb2.RelatedParty(
    relation=monitoring_pb2.PARTY_RELATION_LEGAL_REPRESENTATIVE, display_name="张三",
    account="6222000000001111",
)


def _round_trip_share(value: float) -> monitoring_pb2.RuleParameterOverride:
    return monitoring_pb2.RuleParameterOverride(
        rule="round_trip", parameter="return_share", value=struct_pb2.Value(number_value=value))


class TestProfileMask:
    async def test_a_mask_changes_only_the_named_fields(self, store_url, identity):
        async with risk_service(store_url, identity) as h:
            client = await h.known_client("c-mask")
            name = f"{client}/monitoringProfile"
            await h.stub.UpdateMonitoringProfile(risk_service_pb2.UpdateMonitoringProfileRequest(
                profile=monitoring_pb2.MonitoringProfile(
                    name=name, own_accounts=["6228000011112222"], related_parties=[PERSON],
                    group="恒远集团", registered_name="苏州恒远贸易有限公司"),
            ), metadata=h.officer())

            changed = await h.stub.UpdateMonitoringProfile(
                risk_service_pb2.UpdateMonitoringProfileRequest(
                    profile=monitoring_pb2.MonitoringProfile(name=name, group="新集团"),
                    update_mask=field_mask_pb2.FieldMask(paths=["group"]),
                ), metadata=h.officer())

            assert changed.group == "新集团"
            assert list(changed.own_accounts) == ["6228000011112222"]
            assert changed.registered_name == "苏州恒远贸易有限公司"
            assert [p.display_name for p in changed.related_parties] == ["张*"]
            stored = await h.stub.GetMonitoringProfile(
                risk_service_pb2.GetMonitoringProfileRequest(name=name), metadata=h.officer())
            assert stored == changed

    async def test_an_empty_mask_replaces_the_whole_profile(self, store_url, identity):
        async with risk_service(store_url, identity) as h:
            client = await h.known_client("c-full")
            name = f"{client}/monitoringProfile"
            for profile in (
                monitoring_pb2.MonitoringProfile(name=name, own_accounts=["6228000011112222"],
                                                 related_parties=[PERSON], group="恒远集团"),
                monitoring_pb2.MonitoringProfile(name=name, registered_name="恒远贸易"),
            ):
                replaced = await h.stub.UpdateMonitoringProfile(
                    risk_service_pb2.UpdateMonitoringProfileRequest(profile=profile),
                    metadata=h.officer())
            assert (list(replaced.own_accounts), list(replaced.related_parties),
                    replaced.group, replaced.registered_name) == ([], [], "", "恒远贸易")

    @pytest.mark.parametrize("path", ["name", "update_time", "unknown"])
    async def test_a_path_that_cannot_change_is_invalid(self, sqlite_url, identity, path):
        async with risk_service(sqlite_url, identity) as h:
            client = await h.known_client("c-bad")
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.UpdateMonitoringProfile(
                    risk_service_pb2.UpdateMonitoringProfileRequest(
                        profile=monitoring_pb2.MonitoringProfile(
                            name=f"{client}/monitoringProfile"),
                        update_mask=field_mask_pb2.FieldMask(paths=[path]),
                    ), metadata=h.officer())
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert details(caught.value)[1] == ["update_mask"]


class TestRulesetMask:
    async def test_a_mask_of_overrides_keeps_the_version_and_an_empty_mask_replaces_all(
        self, store_url, identity
    ):
        async with risk_service(store_url, identity) as h:
            version = h.ctx.monitoring().ruleset.version
            first = await h.stub.UpdateMonitoringRuleset(
                risk_service_pb2.UpdateMonitoringRulesetRequest(
                    ruleset=monitoring_pb2.MonitoringRuleset(
                        version=version, overrides=[_round_trip_share(0.6)])),
                metadata=h.officer())
            assert [o.value.number_value for o in first.overrides] == [0.6]

            # Only the overrides: the version is not sent and stays.
            masked = await h.stub.UpdateMonitoringRuleset(
                risk_service_pb2.UpdateMonitoringRulesetRequest(
                    ruleset=monitoring_pb2.MonitoringRuleset(overrides=[_round_trip_share(0.4)]),
                    update_mask=field_mask_pb2.FieldMask(paths=["overrides"])),
                metadata=h.officer())
            assert masked.version == version
            assert [o.value.number_value for o in masked.overrides] == [0.4]
            assert h.ctx.monitoring().ruleset.label == masked.label

            # Only the version: the overrides in force stay.
            kept = await h.stub.UpdateMonitoringRuleset(
                risk_service_pb2.UpdateMonitoringRulesetRequest(
                    ruleset=monitoring_pb2.MonitoringRuleset(version=version),
                    update_mask=field_mask_pb2.FieldMask(paths=["version"])),
                metadata=h.officer())
            assert [o.value.number_value for o in kept.overrides] == [0.4]

            # No mask: what is sent is the whole rule set, so the overrides go.
            replaced = await h.stub.UpdateMonitoringRuleset(
                risk_service_pb2.UpdateMonitoringRulesetRequest(
                    ruleset=monitoring_pb2.MonitoringRuleset(version=version)),
                metadata=h.officer())
            assert list(replaced.overrides) == []
            assert h.ctx.monitoring().ruleset.label == version

    async def test_an_output_only_path_is_invalid(self, sqlite_url, identity):
        async with risk_service(sqlite_url, identity) as h:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.UpdateMonitoringRuleset(
                    risk_service_pb2.UpdateMonitoringRulesetRequest(
                        ruleset=monitoring_pb2.MonitoringRuleset(version="MON-2027.1"),
                        update_mask=field_mask_pb2.FieldMask(paths=["label"])),
                    metadata=h.officer())
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
