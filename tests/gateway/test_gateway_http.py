"""HTTP/JSON face: the OpenAPI document, a client driven only by it, and error mapping."""

from __future__ import annotations

import re
import uuid

import pytest
from client_harness import client_service, create_request
from gateway_harness import gateway_service
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator
from openapi_spec_validator import validate

from crm.client.v1 import client_service_pb2_grpc
from crm_client.domain.credit_code import make_credit_code
from crm_gateway.descriptors import discover
from crm_gateway.openapi import openapi_path
from crm_runtime.auth import Role


@pytest.fixture
async def stack(sqlite_url, identity, tmp_path):
    """The client service behind a gateway."""
    async with (
        client_service(sqlite_url, identity) as clients,
        gateway_service(tmp_path, identity, client_addr=clients.running.address) as gw,
    ):
        yield gw


def find_operation(document, operation_id):
    """Return (path, verb, operation) of an operation id."""
    for path, item in document["paths"].items():
        for verb, operation in item.items():
            if operation["operationId"] == operation_id:
                return path, verb, operation
    raise KeyError(operation_id)


def schema_of(document, schema):
    """Return a schema made self-contained for jsonschema ($refs resolve in it)."""
    return {**schema, "components": document["components"]}


def resolve(document, schema):
    """Follow a $ref into components."""
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def fill_path(path, resource_name):
    """Fill a path's parameters from a resource name whose segments the path mirrors."""
    version = path.split("/")[1]
    pattern = re.sub(
        r"\{(\w+)\}", r"(?P<\1>[^/:]+)", re.escape(path).replace(r"\{", "{").replace(r"\}", "}")
    )
    match = re.match(pattern, f"/{version}/{resource_name}")
    assert match, (path, resource_name)
    return path.format(**match.groupdict())


def enum_choice(document, schema):
    """Return the first meaningful value of an enum schema."""
    values = resolve(document, schema)["enum"]
    return next(v for v in values if not v.endswith("_UNSPECIFIED"))


class TestOpenApiDocument:
    async def test_served_without_credentials_and_valid(self, stack):
        """GET /openapi.json needs no credentials and passes openapi-spec-validator."""
        reply = await stack.http.get("/openapi.json")
        assert reply.status_code == 200
        document = reply.json()
        validate(document)
        assert document["openapi"].startswith("3.")

    async def test_covers_every_http_route(self, stack):
        """Every google.api.http binding of every unary method has its operation."""
        document = (await stack.http.get("/openapi.json")).json()
        missing = []
        count = 0
        for info in discover().values():
            for binding in info.bindings if info.unary else ():
                count += 1
                path, _ = openapi_path(binding.template)
                operation = document["paths"].get(path, {}).get(binding.verb.lower())
                if operation is None or operation["x-grpc-method"] != info.path:
                    missing.append((info.path, binding.verb, binding.template))
        assert count > 20
        assert missing == []

    async def test_output_only_fields_are_read_only(self, stack):
        """OUTPUT_ONLY fields are readOnly and REQUIRED fields are required."""
        document = (await stack.http.get("/openapi.json")).json()
        client = document["components"]["schemas"]["crm.client.v1.Client"]
        assert client["properties"]["relationshipManager"]["readOnly"] is True
        assert {"displayName", "creditCode", "industryCode"} <= set(client["required"])


class TestDocumentDrivenClient:
    async def test_create_then_read_a_client_from_the_document_alone(self, stack):
        """Build CreateClient and GetClient calls from the document's paths and schemas."""
        gw = stack
        headers = gw.person_headers("rm-doc", Role.RELATIONSHIP_MANAGER)
        document = (await gw.http.get("/openapi.json")).json()
        path, verb, create = find_operation(document, "ClientService_CreateClient")
        body_schema = create["requestBody"]["content"]["application/json"]["schema"]
        properties = resolve(document, body_schema)["properties"]
        cny = {"currencyCode": "CNY", "units": "260000000"}
        body = {
            "displayName": "杭州文档驱动制造有限公司",
            "creditCode": make_credit_code("91330100", "DC000001"),
            "industryCode": "C3411",
            "regionCode": "330100",
            "ownershipType": enum_choice(document, properties["ownershipType"]),
            "foundingDate": {"year": 2015, "month": 3, "day": 9},
            "employeeCount": 120,
            "annualRevenue": cny,
            "totalAssets": cny,
        }
        assert set(resolve(document, body_schema)["required"]) <= set(body)
        OAS30WriteValidator(schema_of(document, body_schema)).validate(body)
        query = {p["name"] for p in create["parameters"] if p["in"] == "query"}
        assert "requestId" in query
        created = await gw.http.request(
            verb.upper(), path, json=body, params={"requestId": str(uuid.uuid4())}, headers=headers
        )
        assert created.status_code == 200, created.text
        response_schema = create["responses"]["200"]["content"]["application/json"]["schema"]
        OAS30ReadValidator(schema_of(document, response_schema)).validate(created.json())
        name = created.json()["name"]

        get_path, get_verb, get = find_operation(document, "ClientService_GetClient")
        assert [p["in"] for p in get["parameters"]] == ["path"]
        fetched = await gw.http.request(
            get_verb.upper(), fill_path(get_path, name), headers=headers
        )
        assert fetched.status_code == 200
        OAS30ReadValidator(
            schema_of(document, get["responses"]["200"]["content"]["application/json"]["schema"])
        ).validate(fetched.json())
        assert fetched.json()["name"] == name
        assert fetched.json()["creditCode"] == body["creditCode"]
        assert fetched.json()["relationshipManager"] == "staff/rm-doc"

    async def test_error_bodies_match_the_status_schema(self, stack):
        """A 403 body validates against the document's google.rpc.Status schema."""
        gw = stack
        document = (await gw.http.get("/openapi.json")).json()
        created = await client_service_pb2_grpc.ClientServiceStub(gw.channel).CreateClient(
            create_request(), metadata=gw.person("rm-b", Role.RELATIONSHIP_MANAGER)
        )
        get_path, _, get = find_operation(document, "ClientService_GetClient")
        reply = await gw.http.get(
            fill_path(get_path, created.name),
            headers=gw.person_headers("rm-a", Role.RELATIONSHIP_MANAGER),
        )
        assert reply.status_code == 403
        error_schema = get["responses"]["default"]["content"]["application/json"]["schema"]
        OAS30ReadValidator(schema_of(document, error_schema)).validate(reply.json())


class TestTranscoding:
    async def test_patch_with_mask_in_query_and_body_field(self, stack):
        """PATCH /v1/clients/{id}?updateMask=... updates only the masked field."""
        gw = stack
        headers = gw.person_headers("rm-a", Role.RELATIONSHIP_MANAGER)
        created = await client_service_pb2_grpc.ClientServiceStub(gw.channel).CreateClient(
            create_request(), metadata=gw.person("rm-a", Role.RELATIONSHIP_MANAGER)
        )
        reply = await gw.http.patch(
            f"/v1/{created.name}",
            params={"updateMask": "employeeCount"},
            json={"employeeCount": 999, "displayName": "ignored"},
            headers=headers,
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["employeeCount"] == 999
        assert reply.json()["displayName"] == created.display_name

    async def test_body_star_with_path_variable(self, stack):
        """POST /v1/clients/{id}:assign fills name from the path and the rest from the body."""
        gw = stack
        created = await client_service_pb2_grpc.ClientServiceStub(gw.channel).CreateClient(
            create_request(), metadata=gw.person("rm-a", Role.RELATIONSHIP_MANAGER)
        )
        reply = await gw.http.post(
            f"/v1/{created.name}:assign",
            json={"relationshipManager": "staff/rm-c", "reason": "portfolio rebalancing"},
            headers=gw.person_headers("lead-1", Role.TEAM_LEAD, Role.OPS),
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["relationshipManager"] == "staff/rm-c"

    async def test_validation_error_keeps_field_violations(self, stack):
        """A service INVALID_ARGUMENT is HTTP 400 with its BadRequest field violations."""
        gw = stack
        reply = await gw.http.post(
            "/v1/clients",
            json={"displayName": "x", "creditCode": "91350203M0001QAY9B"},
            headers=gw.person_headers("rm-a", Role.RELATIONSHIP_MANAGER),
        )
        assert reply.status_code == 400
        details = reply.json()["details"]
        fields = [
            v["field"]
            for d in details
            if d["@type"].endswith("google.rpc.BadRequest")
            for v in d["fieldViolations"]
        ]
        assert "client.credit_code" in fields

    @pytest.mark.parametrize(
        ("content", "params", "expected_reason"),
        [
            (b"{not json", {}, "MALFORMED_JSON"),
            (b'{"noSuchField": 1}', {}, "MALFORMED_REQUEST"),
            (b"{}", {"noSuchParam": "1"}, "INVALID_ARGUMENT"),
        ],
    )
    async def test_bad_requests_are_400(self, stack, content, params, expected_reason):
        """Malformed JSON, unknown fields and unknown parameters are 400 INVALID_ARGUMENT."""
        gw = stack
        headers = {
            **gw.person_headers("rm-a", Role.RELATIONSHIP_MANAGER),
            "content-type": "application/json",
        }
        reply = await gw.http.post("/v1/clients", content=content, params=params, headers=headers)
        assert reply.status_code == 400
        status = reply.json()
        assert status["code"] == 3
        reasons = [d["reason"] for d in status["details"] if "reason" in d]
        assert reasons == [expected_reason]

    async def test_unknown_route_is_404_and_request_id_echoed(self, stack):
        """An unmatched path is 404 NOT_FOUND; the caller's x-request-id comes back."""
        gw = stack
        reply = await gw.http.get(
            "/v1/nothingHere",
            headers={
                **gw.person_headers("rm-a", Role.RELATIONSHIP_MANAGER),
                "x-request-id": "req-123",
            },
        )
        assert reply.status_code == 404
        assert reply.json()["code"] == 5
        assert reply.headers["x-request-id"] == "req-123"

    async def test_oversized_body_is_413(self, stack):
        """A body above MAX_HTTP_BODY_BYTES is refused before it is parsed."""
        gw = stack
        reply = await gw.http.post(
            "/v1/clients",
            content=b"{" + b" " * (gw.settings.max_http_body_bytes + 1) + b"}",
            headers=gw.person_headers("rm-a", Role.RELATIONSHIP_MANAGER),
        )
        assert reply.status_code == 413
        assert reply.json()["code"] == 8

    async def test_upstream_down_is_503_without_internal_addresses(
        self, sqlite_url, identity, tmp_path
    ):
        """With the client service unreachable: 503 UNAVAILABLE and no address in the body."""
        async with gateway_service(tmp_path, identity, client_addr="127.0.0.1:9") as gw:
            reply = await gw.http.get(
                "/v1/clients", headers=gw.person_headers("rm-a", Role.RELATIONSHIP_MANAGER)
            )
            assert reply.status_code == 503
            assert "127.0.0.1" not in reply.text
            assert reply.json()["details"][0]["reason"] == "UPSTREAM_UNAVAILABLE"
