"""Feedback resource names come from the patterns its protos declare (google.api.resource)."""

from __future__ import annotations

import pytest
from google.api import resource_pb2

from crm.feedback.v1 import feedback_service_pb2 as api
from crm_feedback.validation import CLIENT, FACILITY, SEGMENT
from crm_runtime import names
from crm_runtime.errors import InvalidArgument


@pytest.mark.parametrize(
    ("request_", "field", "ids"),
    [
        (api.GetSurveyRequest(name="surveys/nps-2026"), "name", {"survey": "nps-2026"}),
        (api.DeleteSurveyRequest(name="surveys/s1"), "name", {"survey": "s1"}),
        (api.SendSurveyRequest(survey="surveys/s1"), "survey", {"survey": "s1"}),
        (api.GetSurveyResultsRequest(survey="surveys/s1"), "survey", {"survey": "s1"}),
        (api.ListSurveyDispatchesRequest(parent="surveys/s1"), "parent", {"survey": "s1"}),
        (
            api.AnswerSurveyRequest(dispatch=f"surveys/s1/dispatches/{'a' * 32}"),
            "dispatch",
            {"survey": "s1", "dispatch": "a" * 32},
        ),
        (
            api.GetFollowupPlanRequest(name="clients/c1/facilities/F-01/followupPlan"),
            "name",
            {"client": "c1", "facility": "F-01"},
        ),
        (
            api.CreateFollowupPlanRequest(parent="clients/c1/facilities/F-01"),
            "parent",
            {"client": "c1", "facility": "F-01"},
        ),
        (
            api.RecordVisitRequest(parent="clients/c1/facilities/F-01"),
            "parent",
            {"client": "c1", "facility": "F-01"},
        ),
        (
            api.ListVisitsRequest(parent="clients/c1/facilities/F-01"),
            "parent",
            {"client": "c1", "facility": "F-01"},
        ),
    ],
)
def test_request_names_parse_by_declared_pattern(request_, field, ids):
    assert names.parse(request_, field) == ids


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (api.GetSurveyRequest(name="surveys/a/b"), "name"),
        (api.SendSurveyRequest(survey="survey/s1"), "survey"),
        (api.AnswerSurveyRequest(dispatch="surveys/s1"), "dispatch"),
        (api.GetFollowupPlanRequest(name="clients/c1/facilities/f1"), "name"),
        (api.ListVisitsRequest(parent="clients/c1/facilities/f1/visits/v1"), "parent"),
    ],
)
def test_malformed_names_name_their_field(request_, field):
    with pytest.raises(InvalidArgument) as caught:
        names.parse(request_, field)
    assert caught.value.violations[0].field == field


def test_other_services_names_follow_the_same_rule():
    assert FACILITY.pattern == "clients/{client}/facilities/{facility}"
    assert CLIENT.parse("clients/c-1", "client") == {"client": "c-1"}
    assert SEGMENT.regex.fullmatch("segments/demo-size-medium")
    assert not CLIENT.regex.fullmatch("clients/c1/facilities/f1")


def test_every_name_and_parent_field_declares_its_resource():
    service = api.DESCRIPTOR.services_by_name["FeedbackService"]
    undeclared = [
        f"{method.input_type.name}.{field.name}"
        for method in service.methods
        for field in method.input_type.fields
        if field.name in ("name", "parent")
        and not field.GetOptions().HasExtension(resource_pb2.resource_reference)
    ]
    assert undeclared == []
