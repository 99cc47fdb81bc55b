"""Lookups in the client service: contacts' mobile numbers, key persons, segment members.

Calls carry a SYSTEM identity minted by this service's own key. The mobile number is asked for
with the access reason "notification delivery", which the client service audits and answers
with only that one field unmasked; notify keeps it in memory for the single send.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from crm.client.v1 import client_service_pb2, client_service_pb2_grpc
from crm_runtime.auth import IDENTITY_METADATA_KEY, Role, TokenSigner
from crm_runtime.channels import open_channel
from crm_runtime.errors import FailedPrecondition, NotFound, Unavailable

DELIVERY_ACCESS_REASON = "notification delivery"
CALLER = "systems/notify"
_TRANSIENT = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
    }
)


@dataclass(frozen=True)
class MembersPage:
    """One page of a segment's member clients."""

    clients: list[str]
    next_page_token: str


class DirectoryError(Exception):
    """A lookup failed; `transient` says whether retrying later may help."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class ClientDirectory:
    """A lazily opened channel to crm.client.v1.ClientService."""

    def __init__(self, address: str, signer: TokenSigner | None) -> None:
        self._address = address
        self._signer = signer
        self._channel: grpc.aio.Channel | None = None
        self._stub: client_service_pb2_grpc.ClientServiceStub | None = None

    @property
    def configured(self) -> bool:
        """Return True when CLIENT_ADDR is set."""
        return bool(self._address)

    def _client(self) -> client_service_pb2_grpc.ClientServiceStub:
        if not self._address:
            raise DirectoryError("CLIENT_ADDR is not configured", transient=False)
        if self._stub is None:
            self._channel = open_channel(self._address)
            self._stub = client_service_pb2_grpc.ClientServiceStub(self._channel)
        return self._stub

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        if self._signer is None:
            return ()
        return ((IDENTITY_METADATA_KEY, self._signer.mint(CALLER, [Role.SYSTEM])),)

    async def close(self) -> None:
        """Close the channel."""
        if self._channel is not None:
            await self._channel.close()

    async def mobile_of(self, key_person: str) -> str:
        """Return a key person's mobile number ("" when none is on file)."""
        try:
            person = await self._client().GetKeyPerson(
                client_service_pb2.GetKeyPersonRequest(
                    name=key_person, unmask=True, access_reason=DELIVERY_ACCESS_REASON
                ),
                metadata=self._metadata(),
                timeout=5.0,
            )
        except grpc.aio.AioRpcError as exc:
            raise _error(exc, key_person) from exc
        return str(person.mobile_number)

    async def key_persons_of(self, client: str) -> list[str]:
        """Return every key person of a client (names only; nothing personal is kept)."""
        names: list[str] = []
        token = ""
        while True:
            try:
                reply = await self._client().ListKeyPersons(
                    client_service_pb2.ListKeyPersonsRequest(
                        parent=client, page_size=500, page_token=token
                    ),
                    metadata=self._metadata(),
                    timeout=10.0,
                )
            except grpc.aio.AioRpcError as exc:
                raise _error(exc, client) from exc
            names.extend(p.name for p in reply.key_persons)
            token = reply.next_page_token
            if not token:
                return names

    async def segment_exists(self, segment: str) -> bool:
        """Return True if the segment exists; raise Unavailable when the service is down."""
        try:
            await self._client().GetSegment(
                client_service_pb2.GetSegmentRequest(name=segment),
                metadata=self._metadata(),
                timeout=5.0,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return False
            if exc.code() in _TRANSIENT:
                raise Unavailable("the client service is unavailable") from exc
            raise FailedPrecondition(
                f"the client service refused the segment lookup: {exc.code().name}",
                reason="CLIENT_SERVICE_REFUSED",
            ) from exc
        except DirectoryError as exc:
            raise FailedPrecondition(str(exc), reason="CLIENT_SERVICE_NOT_CONFIGURED") from exc
        return True

    async def segment_members(self, segment: str, page_token: str, page_size: int) -> MembersPage:
        """Return one page of a segment's member clients."""
        try:
            reply = await self._client().ListSegmentMembers(
                client_service_pb2.ListSegmentMembersRequest(
                    segment=segment, page_size=page_size, page_token=page_token
                ),
                metadata=self._metadata(),
                timeout=10.0,
            )
        except grpc.aio.AioRpcError as exc:
            raise _error(exc, segment) from exc
        return MembersPage([m.client for m in reply.memberships], reply.next_page_token)


def _error(exc: grpc.aio.AioRpcError, what: str) -> DirectoryError:
    code = exc.code()
    if code == grpc.StatusCode.NOT_FOUND:
        return DirectoryError(f"{what} not found in the client service", transient=False)
    return DirectoryError(f"client service: {code.name}", transient=code in _TRANSIENT)


def not_found(what: str) -> NotFound:
    """Return the NOT_FOUND used when the client service does not know a resource."""
    return NotFound(f"{what} does not exist", reason="NOT_FOUND")
