"""Sending a survey to a segment: members come from the real client service."""

from __future__ import annotations

import grpc
import pytest
from client_harness import a_client, client_service, create_request
from feedback_harness import details, feedback_service, new_request_id, nps_csat_survey

from crm.events.v1 import feedback_events_pb2
from crm.feedback.v1 import feedback_service_pb2
from crm_client.domain.credit_code import make_credit_code


async def define(h) -> str:
    created = await h.stub.CreateSurvey(
        feedback_service_pb2.CreateSurveyRequest(survey=nps_csat_survey(), survey_id="campaign"),
        metadata=h.ops(),
    )
    return created.name


class TestSegmentSends:
    async def test_every_segment_member_gets_one_dispatch(self, tmp_path, identity):
        """Three medium manufacturers in demo-size-medium: three dispatches and events."""
        client_url = f"sqlite+aiosqlite:///{tmp_path}/client.db"
        feedback_url = f"sqlite+aiosqlite:///{tmp_path}/feedback.db"
        async with client_service(client_url, identity) as client:
            names = []
            for index in range(3):
                request = create_request(
                    a_client(credit_code=make_credit_code("91440300", f"MA{index:06d}"))
                )
                names.append((await client.stub.CreateClient(request, metadata=client.rm())).name)
            async with feedback_service(
                feedback_url, identity, client_addr=client.running.address
            ) as h:
                survey = await define(h)
                reply = await h.stub.SendSurvey(
                    feedback_service_pb2.SendSurveyRequest(
                        survey=survey, segment="segments/demo-size-medium", locale="en",
                        request_id=new_request_id(),
                    ),
                    metadata=h.ops(),
                )
                sent = await h.events(feedback_events_pb2.SurveyDispatched)
                with pytest.raises(grpc.aio.AioRpcError) as missing:
                    await h.stub.SendSurvey(
                        feedback_service_pb2.SendSurveyRequest(
                            survey=survey, segment="segments/no-such-segment"
                        ),
                        metadata=h.ops(),
                    )
        assert reply.dispatch_count == 3
        assert sorted(e.client for e in sent) == sorted(names)
        assert {e.locale for e in sent} == {"en"}
        assert {e.trigger for e in sent} == {"manual"}
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        assert details(missing.value)[0] == "SEGMENT_NOT_FOUND"

    async def test_segment_send_without_client_service_is_refused(self, sqlite_url, identity):
        """Without CLIENT_ADDR a segment send is FAILED_PRECONDITION and nothing is sent."""
        async with feedback_service(sqlite_url, identity) as h:
            survey = await define(h)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.SendSurvey(
                    feedback_service_pb2.SendSurveyRequest(
                        survey=survey, segment="segments/demo-size-medium"
                    ),
                    metadata=h.ops(),
                )
            assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert await h.events(feedback_events_pb2.SurveyDispatched) == []
