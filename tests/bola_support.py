"""What every service's BOLA matrix shares (broken object-level authorisation, OWASP API1).

Each service has a matrix file (`tests/<service>/test_<service>_bola_matrix.py`) generated
from its descriptor: every RPC is classified from its request message. The fields that name a
resource make a method object-scoped; a method the classification does not cover fails
`check_classified`, so a new RPC cannot ship without a decision. The matrix file keeps only
what is its own: which fields name a resource, what else a valid request needs, how to seed
two owners, and which methods are exempt and why.

For every object-scoped method, relationship manager A calls it with B's resource and with a
resource that does not exist: both must give the same answer, PERMISSION_DENIED with the
service's ErrorInfo reason (no existence oracle), and B's data must be unchanged. The same
request with A's own resource must succeed, which shows the refusal comes from ownership and
not from a malformed request. `run_matrix` prints one line per matrix counting cross-owner
successes (0 is the only passing count).

Refusals are compared by their machine-readable reason (google.rpc.ErrorInfo), which clients
and the gateway act on; the message text is free to change. That B's resource and a
nonexistent one answer alike is checked on the whole answer, message included.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import grpc
from contract_support import details
from google.protobuf import message, message_factory

Whose = Literal["other", "ghost", "own"]
# In this order for every method: B's resource, a nonexistent one, then A's own.
WHOSE: tuple[Whose, ...] = ("other", "ghost", "own")
RESOURCE_FIELDS = ("name", "parent", "client")
# The runtime's reason for a caller whose role may not call the method at all.
ROLE_NOT_ALLOWED = "ROLE_NOT_ALLOWED"


@dataclass(frozen=True)
class Outcome:
    """How a call ended: status code, ErrorInfo reason and message ("" when it succeeded)."""

    code: grpc.StatusCode
    reason: str = ""
    message: str = ""

    @property
    def verdict(self) -> tuple[grpc.StatusCode, str]:
        """Return what a client acts on: the code and the reason."""
        return self.code, self.reason


OK = Outcome(grpc.StatusCode.OK)


def denied(reason: str) -> tuple[grpc.StatusCode, str]:
    """Return the verdict of a refusal with `reason`."""
    return grpc.StatusCode.PERMISSION_DENIED, reason


def string_field(method: Any, names: Sequence[str]) -> str | None:
    """Return the first of `names` that is a top-level string field of the request."""
    fields = method.input_type.fields_by_name
    for name in names:
        if name in fields and fields[name].type == fields[name].TYPE_STRING:
            return name
    return None


def nested_field(method: Any, leaf: str) -> str | None:
    """Return `<field>.<leaf>` for the first message field of the request that has `leaf`."""
    for field in method.input_type.fields:
        message_type = field.message_type
        if message_type is not None and leaf in message_type.fields_by_name:
            return f"{field.name}.{leaf}"
    return None


def resource_field(method: Any, names: Sequence[str] = RESOURCE_FIELDS) -> str | None:
    """Return the request field (dotted) that names the resource, or None.

    A top-level field among `names`, else in an Update the updated resource's `name`
    (client.name, survey.name, ...).
    """
    found = string_field(method, names)
    if found is None and method.name.startswith("Update"):
        return nested_field(method, "name")
    return found


def build_request(
    method: Any,
    field: str | None,
    resource: str,
    body: Callable[[Any], object] | None = None,
) -> message.Message:
    """Return a request of `method` naming `resource` in `field` (dotted), completed by `body`.

    A repeated message holder gets one element (cursors[].recipient); a repeated string gets
    `resource` appended (SendSurvey's clients). Requests with a request id get a fresh one.
    """
    request = message_factory.GetMessageClass(method.input_type)()
    if field is not None:
        holder, _, leaf = field.rpartition(".")
        container = getattr(request, holder) if holder else request
        if holder and request.DESCRIPTOR.fields_by_name[holder].is_repeated:
            container = container.add()
        if container.DESCRIPTOR.fields_by_name[leaf].is_repeated:
            getattr(container, leaf).append(resource)
        else:
            setattr(container, leaf, resource)
    if body is not None:
        body(request)
    if "request_id" in method.input_type.fields_by_name:
        request.request_id = str(uuid.uuid4())
    return request


async def call(stub: Any, method: Any, request: message.Message, metadata: Any) -> Outcome:
    """Call `method` on `stub`; return how it ended.

    A client stream sends the one request and reads every acknowledgement; a server stream
    counts as answered once its first response arrives.
    """
    rpc = getattr(stub, method.name)
    try:
        if method.client_streaming:
            async for _ in rpc(iter([request]), metadata=metadata):
                pass
        elif method.server_streaming:
            stream = rpc(request, metadata=metadata)
            try:
                async with asyncio.timeout(10):
                    async for _ in stream:
                        break
            finally:
                stream.cancel()
        else:
            await rpc(request, metadata=metadata)
    except grpc.aio.AioRpcError as error:
        return Outcome(error.code(), details(error)[0], error.details() or "")
    return OK


def assert_refused_by_role(answers: Mapping[str, Iterable[Outcome]]) -> None:
    """Assert each method gave one answer, whatever its request named: the refusal by role
    (no ownership is looked at, so none is revealed)."""
    verdicts = {name: [o.verdict for o in set(outcomes)] for name, outcomes in answers.items()}
    assert verdicts == {name: [denied(ROLE_NOT_ALLOWED)] for name in answers}


def check_classified(
    service: Any, field_of: Callable[[Any], str | None], *exempt: Mapping[str, str]
) -> None:
    """Fail unless every method names a resource or is exempt with a reason, exemption lists
    are disjoint, and no exemption names a method the service no longer has."""
    names = [set(group) for group in exempt]
    everyone = set().union(*names)
    unclassified = [
        m.name for m in service.methods if field_of(m) is None and m.name not in everyone
    ]
    assert unclassified == []
    assert sum(len(group) for group in names) == len(everyone), "a method is exempt twice"
    stale = sorted(name for name in everyone if name not in service.methods_by_name)
    assert stale == []


def scoped_methods(
    service: Any, field_of: Callable[[Any], str | None], *exempt: Mapping[str, str]
) -> list[Any]:
    """Return the object-scoped methods, deletions last (they remove what the others use)."""
    everyone = set().union(*(set(group) for group in exempt))
    scoped = [m for m in service.methods if field_of(m) is not None and m.name not in everyone]
    return sorted(scoped, key=lambda m: m.name.startswith("Delete"))


async def run_matrix(
    label: str,
    methods: Sequence[Any],
    *,
    request_for: Callable[[Any, Whose], message.Message],
    call_as_a: Callable[[Any, message.Message], Awaitable[Outcome]],
    reason_for: Callable[[Any], str],
    capsys: Any,
) -> dict[str, dict[Whose, Outcome]]:
    """Call every method as RM A with B's, a nonexistent and A's own resource; assert the
    matrix holds and print its line. `reason_for(method)` is the ErrorInfo reason of the
    method's ownership refusal."""
    outcomes: dict[str, dict[Whose, Outcome]] = {}
    for method in methods:
        outcomes[method.name] = {
            whose: await call_as_a(method, request_for(method, whose)) for whose in WHOSE
        }
    cross_owner = [
        name
        for name, answers in outcomes.items()
        if OK in (answers["other"], answers["ghost"])
    ]
    with capsys.disabled():
        print(
            f"\nBOLA matrix, {label}: cross-owner successes "
            f"{len(cross_owner)}/{len(outcomes)} methods x 2 foreign ids"
        )
    assert cross_owner == []
    # The same answer for B's resource and a nonexistent one: no existence oracle.
    assert {n: a["other"] for n, a in outcomes.items()} == {
        n: a["ghost"] for n, a in outcomes.items()
    }
    assert {n: a["other"].verdict for n, a in outcomes.items()} == {
        m.name: denied(reason_for(m)) for m in methods
    }
    assert {n: a["own"] for n, a in outcomes.items()} == dict.fromkeys(outcomes, OK)
    return outcomes
