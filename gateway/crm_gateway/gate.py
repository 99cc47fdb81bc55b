"""Admission of one external call: authenticate, authorise, limit, mint the internal identity.

Both faces of the gateway (gRPC and HTTP/JSON) go through the same Gate, so the rules, limits
and audit are the same whichever way a caller comes in.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from google.rpc import code_pb2
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from crm_gateway.access import AccessRules, Unimplemented
from crm_gateway.apikeys import ApiKeyStore
from crm_gateway.audit import AuditEntry, AuditLog
from crm_gateway.descriptors import MethodInfo
from crm_gateway.jwks import JwtVerifier
from crm_gateway.limits import BucketStore, InFlight
from crm_gateway.origins import credential_fingerprint
from crm_runtime.auth import Principal, TokenSigner
from crm_runtime.errors import DomainError, ResourceExhausted, Unauthenticated, Unavailable
from crm_runtime.metrics import rpc_attributes, server_duration, status_number

ANONYMOUS = "anonymous"
_MINTED_CACHE_SIZE = 10_000
_KNOWN_GOOD_SIZE = 50_000
_KNOWN_GOOD_SECONDS = 900.0


class IdentityMinter:
    """Mints the internal identity (x-crm-identity) and reuses it for half its lifetime.

    Signing costs tens of microseconds; a caller's identity only changes when its roles or
    teams do, so one token serves many calls while it has plenty of life left.
    """

    def __init__(
        self,
        signer: TokenSigner,
        *,
        ttl_seconds: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._signer = signer
        self._ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[tuple[str, frozenset[str], frozenset[str]], tuple[str, float]] = {}

    def token_for(self, principal: Principal) -> str:
        """Return a valid internal token for `principal`."""
        key = (principal.subject, frozenset(map(str, principal.roles)), principal.teams)
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        token = self._signer.mint(
            principal.subject,
            principal.roles,
            teams=principal.teams,
            ttl_seconds=self._ttl,
            now=now,
        )
        if len(self._cache) >= _MINTED_CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = (token, now + self._ttl / 2)
        return token


class Gate:
    """The checks every external call passes before it is forwarded."""

    def __init__(
        self,
        *,
        rules: AccessRules,
        jwt: JwtVerifier | None,
        api_keys: ApiKeyStore | None,
        rates: BucketStore,
        auth_failures: BucketStore,
        in_flight: InFlight,
        minter: IdentityMinter,
        audit: AuditLog,
        streams: InFlight | None = None,
    ) -> None:
        self.rules = rules
        self._jwt = jwt
        self._api_keys = api_keys
        self.rates = rates
        self._auth_failures = auth_failures
        self.in_flight = in_flight
        # Long-lived streams have their own per-caller count: a system holding its monitoring
        # streams must still make unary calls, and a burst of unary calls must not stop a
        # caller from opening its push stream.
        self.streams = streams or InFlight(in_flight.limit)
        self._minter = minter
        self.audit = audit
        # Fingerprints of credentials that authenticated recently → until when they count.
        self._known_good: dict[str, float] = {}

    async def authenticate(self, authorization: str, api_key: str, origin: str) -> Principal:
        """Return the caller behind a bearer token or API key, or raise UNAUTHENTICATED.

        Failed attempts are counted per client address (`origin`) and per presented
        credential. A credential past its own limit is refused with RESOURCE_EXHAUSTED before
        it is checked (unless it authenticated recently). From an address past its limit a
        credential is still checked, and served if valid; if not, it too is refused with
        RESOURCE_EXHAUSTED: the guesser learns nothing more, and a valid caller is never
        locked out by others' failures (a NAT or a shared ingress hop). Counts are shared by
        every replica in Redis; "authenticated recently" is this replica's own memory.
        """
        if not authorization and not api_key:
            raise Unauthenticated("credentials are missing", reason="CREDENTIALS_MISSING")
        return await self._guarded(
            credential_fingerprint(authorization, api_key),
            origin,
            lambda: self._verify(authorization, api_key),
        )

    async def authenticate_ticket(
        self, ticket: str, origin: str, verify: Callable[[str], Principal]
    ) -> Principal:
        """Return the caller an events ticket names; failures count as for any credential."""
        return await self._guarded(
            credential_fingerprint(f"ticket {ticket}", ""), origin, lambda: verify(ticket)
        )

    async def _guarded(
        self, fingerprint: str, origin: str, verify: Callable[[], Principal]
    ) -> Principal:
        """Run `verify` unless this credential's failures are past the limit (and it did not
        succeed recently); count its failures, answered as exhausted from a locked origin."""
        credential_key = f"credential:{fingerprint}"
        now = time.monotonic()
        if self._known_good.get(fingerprint, 0.0) <= now:
            (credential_wait,) = await self._auth_failures.peek(credential_key)
            if credential_wait > 0:
                raise _exhausted(credential_wait)
        # Checked even from a locked origin: one signature or hash check, cheaper than the
        # refusal's audit record, and the only way a valid newcomer there gets in.
        try:
            principal = verify()
        except Unauthenticated:
            self._known_good.pop(fingerprint, None)
            # One round trip counts both; the origin's answer says if it was already locked.
            origin_wait, _ = await self._auth_failures.take(origin, credential_key)
            if origin_wait > 0:
                raise _exhausted(origin_wait) from None
            raise
        if len(self._known_good) >= _KNOWN_GOOD_SIZE:
            self._known_good.clear()
        self._known_good[fingerprint] = now + _KNOWN_GOOD_SECONDS
        return principal

    def _verify(self, authorization: str, api_key: str) -> Principal:
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or self._jwt is None or not token.strip():
                raise Unauthenticated("unsupported authorization", reason="CREDENTIALS_INVALID")
            return self._jwt.verify(token.strip())
        if self._api_keys is None:
            raise Unauthenticated("API keys are not accepted", reason="CREDENTIALS_INVALID")
        return self._api_keys.verify(api_key)

    async def admit(self, method: str, principal: Principal, *, stream: bool = False) -> str:
        """Check role, rate and in-flight limits; return the identity token to forward.

        A successful admit holds an in-flight slot (of streams when `stream`): call `release`
        with the same `stream` when the call ends.
        """
        self.rules.check(method, principal)
        (wait,) = await self.rates.take(principal.subject)
        if wait > 0:
            raise ResourceExhausted(
                "rate limit exceeded", reason="RATE_LIMITED", retry_after_seconds=wait
            )
        if self.audit.full:
            raise Unavailable("audit log backlog is full", reason="AUDIT_BACKLOG_FULL")
        slots = self.streams if stream else self.in_flight
        if not slots.acquire(principal.subject):
            raise ResourceExhausted(
                "too many streams open" if stream else "too many calls in flight",
                reason="TOO_MANY_IN_FLIGHT",
                retry_after_seconds=0.1,
            )
        return self._minter.token_for(principal)

    def release(self, principal: Principal, *, stream: bool = False) -> None:
        """Free the in-flight slot taken by `admit`."""
        (self.streams if stream else self.in_flight).release(principal.subject)


class CallScope(AuditEntry):
    """One external call from arrival to audit record, on either face of the gateway.

    The scope is the audit entry it becomes: `finish` fills in the caller, the duration and
    the trace and queues it, so the hot path allocates one object per call and what an audit
    record holds is declared once (AuditEntry). The raw unary request (`payload`) is decoded
    by the audit writer off the hot path, for its resource.
    """

    __slots__ = ("_perf", "admitted", "caller", "gate", "span")

    def __init__(
        self,
        gate: Gate,
        method: str,
        info: MethodInfo | None,
        *,
        transport: str,
        origin: str,
        request_id: str,
    ) -> None:
        super().__init__(
            principal=ANONYMOUS,
            method=method,
            outcome="UNKNOWN",
            transport=transport,
            request_id=request_id,
            origin=origin,
            call_time=time.time(),
            duration_micros=0,
            info=info,
        )
        self.gate = gate
        self._perf = time.perf_counter()
        self.caller: Principal | None = None
        self.admitted = False
        # A server span the scope owns and ends (gRPC face); None: use the current span.
        self.span: trace.Span | None = None

    async def admit(self, authorization: str, api_key: str, *, ambiguous: bool = False) -> str:
        """Authenticate and admit the caller; return the identity token to forward.

        `ambiguous`: the call carried a credential header twice. gRPC read the last and HTTP
        the first, so one request meant two callers; now neither face guesses.
        """
        if not self.gate.rules.exposed(self.method):
            raise Unimplemented(f"method {self.method} is not available")
        if ambiguous:
            raise Unauthenticated(
                "more than one credential was presented", reason="CREDENTIALS_AMBIGUOUS"
            )
        self.caller = await self.gate.authenticate(authorization, api_key, self.origin)
        token = await self.gate.admit(self.method, self.caller, stream=self.streaming)
        self.admitted = True
        return token

    async def admit_principal(self, principal: Principal) -> str:
        """Admit a caller already authenticated another way (an events ticket); return the
        identity token to forward. Rules, limits and audit are those of `admit`."""
        if not self.gate.rules.exposed(self.method):
            raise Unimplemented(f"method {self.method} is not available")
        self.caller = principal
        token = await self.gate.admit(self.method, principal, stream=self.streaming)
        self.admitted = True
        return token

    @property
    def streaming(self) -> bool:
        """Return True for a streaming method (counted against the caller's stream slots)."""
        info = self.info
        return info is not None and (info.client_streaming or info.server_streaming)

    def failed(self, error: DomainError) -> None:
        """Note a refusal or error raised by the gateway itself."""
        self.outcome = code_pb2.Code.Name(error.code)

    def finish(self) -> None:
        """Release the caller's slot and queue the audit record."""
        caller = self.caller
        if caller is not None:
            self.principal = caller.subject
            if self.admitted:
                self.gate.release(caller, stream=self.streaming)
        span = self.span
        if span is not None:
            if self.outcome != "OK":
                span.set_status(Status(StatusCode.ERROR, self.outcome))
            span.end()
        context = (span or trace.get_current_span()).get_span_context()
        elapsed = time.perf_counter() - self._perf
        self.duration_micros = int(elapsed * 1e6)
        # Paths no route knows (scanners) share one series instead of one each.
        method = self.method if self.info is not None else "unrouted"
        attributes = rpc_attributes(method, status_number(self.outcome), self.transport)
        server_duration.record(elapsed * 1000, attributes)
        self.trace_id = format(context.trace_id, "032x") if context.is_valid else ""
        self.gate.audit.record(self)


def _exhausted(wait: float) -> ResourceExhausted:
    return ResourceExhausted(
        "too many failed authentications; retry later",
        reason="AUTHENTICATION_ATTEMPTS_EXHAUSTED",
        retry_after_seconds=wait,
    )
