"""Survey definitions through the service: create, versions, validation, delete."""

from __future__ import annotations

import grpc
import pytest
from feedback_harness import details, feedback_service, new_request_id, nps_csat_survey, text
from google.protobuf import field_mask_pb2

from crm.feedback.v1 import feedback_service_pb2, survey_pb2


def create(survey_id: str = "post_disbursement", survey: survey_pb2.Survey | None = None):
    """Return a CreateSurveyRequest."""
    return feedback_service_pb2.CreateSurveyRequest(
        survey=survey or nps_csat_survey(), survey_id=survey_id, request_id=new_request_id()
    )


class TestCreateAndRead:
    async def test_create_get_list(self, store_url, identity):
        """A created survey is version 1, readable and listed, with both locales intact."""
        async with feedback_service(store_url, identity) as h:
            created = await h.stub.CreateSurvey(create(), metadata=h.ops())
            assert created.name == "surveys/post_disbursement"
            assert created.version == 1
            assert created.questions[0].title.zh_cn == "您向同行推荐我行的可能性有多大？"
            got = await h.stub.GetSurvey(
                feedback_service_pb2.GetSurveyRequest(name=created.name), metadata=h.rm()
            )
            assert got == created
            listed = await h.stub.ListSurveys(
                feedback_service_pb2.ListSurveysRequest(), metadata=h.rm()
            )
            assert [s.name for s in listed.surveys] == [created.name]

    async def test_retry_with_same_request_id_returns_first_result(self, sqlite_url, identity):
        """Repeating CreateSurvey with its request_id returns the first survey again."""
        async with feedback_service(sqlite_url, identity) as h:
            request = create()
            first = await h.stub.CreateSurvey(request, metadata=h.ops())
            again = await h.stub.CreateSurvey(request, metadata=h.ops())
            assert again == first
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.CreateSurvey(create(), metadata=h.ops())
            assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS


class TestVersions:
    async def test_content_change_is_a_new_version_and_old_stays_readable(
        self, store_url, identity
    ):
        """Changing questions makes version 2; version 1 stays readable unchanged."""
        async with feedback_service(store_url, identity) as h:
            created = await h.stub.CreateSurvey(create(), metadata=h.ops())
            changed = survey_pb2.Survey(name=created.name, etag=created.etag)
            changed.questions.extend(created.questions[:2])
            updated = await h.stub.UpdateSurvey(
                feedback_service_pb2.UpdateSurveyRequest(
                    survey=changed, update_mask=field_mask_pb2.FieldMask(paths=["questions"])
                ),
                metadata=h.ops(),
            )
            assert updated.version == 2
            assert len(updated.questions) == 2
            v1 = await h.stub.GetSurvey(
                feedback_service_pb2.GetSurveyRequest(name=created.name, version=1),
                metadata=h.ops(),
            )
            assert len(v1.questions) == 4
            # Same content again: no new version.
            changed.etag = updated.etag
            same = await h.stub.UpdateSurvey(
                feedback_service_pb2.UpdateSurveyRequest(
                    survey=changed, update_mask=field_mask_pb2.FieldMask(paths=["questions"])
                ),
                metadata=h.ops(),
            )
            assert same.version == 2

    async def test_stale_etag_is_aborted(self, sqlite_url, identity):
        """An update carrying an etag from before the last change fails with ABORTED."""
        async with feedback_service(sqlite_url, identity) as h:
            created = await h.stub.CreateSurvey(create(), metadata=h.ops())
            title_mask = field_mask_pb2.FieldMask(paths=["title"])
            first = survey_pb2.Survey(
                name=created.name, etag=created.etag, title=text("新标题", "New title")
            )
            await h.stub.UpdateSurvey(
                feedback_service_pb2.UpdateSurveyRequest(survey=first, update_mask=title_mask),
                metadata=h.ops(),
            )
            stale = survey_pb2.Survey(
                name=created.name, etag=created.etag, title=text("再改", "Again")
            )
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.UpdateSurvey(
                    feedback_service_pb2.UpdateSurveyRequest(survey=stale, update_mask=title_mask),
                    metadata=h.ops(),
                )
            assert caught.value.code() == grpc.StatusCode.ABORTED
            assert details(caught.value)[0] == "ETAG_MISMATCH"


class TestValidationAndDelete:
    async def test_bad_definition_lists_every_problem(self, sqlite_url, identity):
        """A blank English title, a choice with one option and a bad id are all reported."""
        survey = nps_csat_survey()
        survey.title.en = " "
        del survey.questions[2].options[1:]
        survey.questions[3].question_id = "bad id!"
        async with feedback_service(sqlite_url, identity) as h:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.CreateSurvey(create(survey=survey), metadata=h.ops())
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            fields = details(caught.value)[1]
            assert "survey.title.en" in fields
            assert "survey.questions[2].options" in fields
            assert "survey.questions[3].question_id" in fields
            listed = await h.stub.ListSurveys(
                feedback_service_pb2.ListSurveysRequest(), metadata=h.ops()
            )
            assert not listed.surveys

    async def test_rm_may_not_define_surveys(self, sqlite_url, identity):
        """Survey definitions are managed by operations; an RM gets PERMISSION_DENIED."""
        async with feedback_service(sqlite_url, identity) as h:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.CreateSurvey(create(), metadata=h.rm())
            assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED

    async def test_deleted_survey_cannot_be_read_or_sent(self, sqlite_url, identity):
        """After DeleteSurvey the survey is NOT_FOUND for reads and sends."""
        async with feedback_service(sqlite_url, identity) as h:
            created = await h.stub.CreateSurvey(create(), metadata=h.ops())
            await h.stub.DeleteSurvey(
                feedback_service_pb2.DeleteSurveyRequest(name=created.name), metadata=h.ops()
            )
            for call in (
                h.stub.GetSurvey(
                    feedback_service_pb2.GetSurveyRequest(name=created.name), metadata=h.ops()
                ),
                h.stub.SendSurvey(
                    feedback_service_pb2.SendSurveyRequest(
                        survey=created.name, clients=["clients/c1"]
                    ),
                    metadata=h.ops(),
                ),
            ):
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await call
                assert caught.value.code() == grpc.StatusCode.NOT_FOUND
