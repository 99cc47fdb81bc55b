"""The OpenAPI document's promises: error responses on every route, and patterns the services
honour — a name built from a declared pattern is never refused as INVALID_ARGUMENT."""

from __future__ import annotations

import re
import warnings

import pytest
from client_harness import client_service
from feedback_harness import feedback_service
from gateway_harness import gateway_service
from hypothesis import strategies as st
from hypothesis.errors import NonInteractiveExampleWarning
from notify_harness import notify_service
from openapi_schema_validator import OAS30ReadValidator
from risk_harness import risk_service

from crm_runtime.auth import Role

ERROR_STATUSES = {"400", "401", "403", "404", "409", "429", "default"}
SAMPLES_PER_PATTERN = 3


@pytest.fixture
async def stack(sqlite_url, identity, tmp_path):
    """The client service behind a gateway."""
    async with (
        client_service(sqlite_url, identity) as clients,
        gateway_service(tmp_path, identity, client_addr=clients.running.address) as gw,
    ):
        yield gw


def _values(pattern: str) -> list[str]:
    """Return values matching `pattern`: its shortest and longest ids, then random ones."""
    strategy = st.from_regex(pattern, fullmatch=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonInteractiveExampleWarning)
        drawn = [strategy.example() for _ in range(SAMPLES_PER_PATTERN)]
    edges = ["7", "a" + "-_Z9" * 15 + "bcd"]  # 1 and 64 characters
    return [value for value in [*edges, *drawn] if re.fullmatch(pattern, value)]


async def test_errors_and_patterns_the_document_declares(stack):
    """One gateway for both checks (each start costs seconds of the default suite)."""
    document = (await stack.http.get("/openapi.json")).json()
    _check_error_responses(document)
    await _check_pattern_valid_names_pass_validation(stack, document)


def _check_error_responses(document):
    """Every route declares the error responses; every example is a valid Status."""
    operations = [op for item in document["paths"].values() for op in item.values()]
    assert len(operations) > 100
    for operation in operations:
        assert set(operation["responses"]) >= ERROR_STATUSES, operation["operationId"]
    status_schema = {
        **document["components"]["schemas"]["google.rpc.Status"],
        "components": document["components"],
    }
    responses = document["components"]["responses"]
    assert len(responses) == len(ERROR_STATUSES) - 1
    for response in responses.values():
        example = response["content"]["application/json"]["example"]
        OAS30ReadValidator(status_schema).validate(example)
        assert example["details"][0]["@type"].endswith("google.rpc.ErrorInfo")


async def _check_pattern_valid_names_pass_validation(
    stack, document, tags=("ClientService",), role=Role.OPS
):
    """Every GET route of the services tagged, with ids drawn from its declared path patterns,
    is answered without INVALID_ARGUMENT; an id against the pattern is refused with it."""
    headers = stack.person_headers("ops-1", role)
    routes = [
        (path, operation)
        for path, item in document["paths"].items()
        if (operation := item.get("get")) and operation["tags"][0] in tags
    ]
    checked = 0
    for path, operation in routes:
        params = [p for p in operation.get("parameters", []) if p["in"] == "path"]
        patterned = [p for p in params if "pattern" in p["schema"]]
        if not patterned or len(patterned) != len(params):
            continue
        for value in _values(patterned[0]["schema"]["pattern"]):
            url = path
            for param in params:
                url = url.replace("{" + param["name"] + "}", value)
            reply = await stack.http.get(url, headers=headers)
            # Past validation: found, hidden or absent, never a malformed request.
            assert reply.status_code in {200, 403, 404}, (url, reply.text)
            checked += 1
        bad = path.replace("{" + params[0]["name"] + "}", "-starts-with-a-dash")
        for param in params[1:]:
            bad = bad.replace("{" + param["name"] + "}", "ok")
        refused = await stack.http.get(bad, headers=headers)
        assert refused.status_code == 400, (bad, refused.text)
    assert checked >= 40, checked  # 12 routes today


@pytest.mark.contracts
async def test_pattern_valid_names_pass_validation_at_every_service(identity, tmp_path):
    """The same check for the GET routes of all four services behind one gateway."""
    stores = {name: f"sqlite+aiosqlite:///{tmp_path}/{name}.db" for name in ("c", "r", "n", "f")}
    async with (
        client_service(stores["c"], identity) as clients,
        risk_service(stores["r"], identity) as risk,
        notify_service(stores["n"], identity, workers=False) as notify,
        feedback_service(stores["f"], identity) as feedback,
        gateway_service(
            tmp_path,
            identity,
            client_addr=clients.running.address,
            risk_addr=risk.running.address,
            notify_addr=notify.running.address,
            feedback_addr=feedback.running.address,
        ) as gw,
    ):
        document = (await gw.http.get("/openapi.json")).json()
        services = ("ClientService", "RiskService", "NotificationService", "FeedbackService")
        await _check_pattern_valid_names_pass_validation(gw, document, services)
