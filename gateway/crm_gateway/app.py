"""Assembly of the gateway: audit store, authentication, routes, the gRPC and HTTP faces.

The gRPC server (crm_runtime.server, with health and reflection) and the uvicorn HTTP server
run in one asyncio process. Stop order: both faces refuse new calls and finish running ones,
then the audit writer flushes, then upstream channels close.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import signal
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import grpc
import uvicorn

from crm_gateway.access import AccessRules
from crm_gateway.apikeys import ApiKeyStore
from crm_gateway.audit import AuditLog
from crm_gateway.audit_chain import PUBLIC_CHAIN_KEY
from crm_gateway.config import GatewaySettings
from crm_gateway.console_mount import console_routes
from crm_gateway.descriptors import discover
from crm_gateway.events import EventTickets
from crm_gateway.gate import Gate, IdentityMinter
from crm_gateway.http_app import HttpFace
from crm_gateway.jwks import JwksSource, JwtVerifier
from crm_gateway.limits import InFlight
from crm_gateway.openapi import build_openapi
from crm_gateway.origins import ClientAddresses
from crm_gateway.proxy import GrpcProxy
from crm_gateway.push_events import PushEvents
from crm_gateway.routing import Routes, Upstreams, UpstreamTls
from crm_gateway.servicer import SERVICE_NAME, GatewayApi
from crm_gateway.shared_limits import build_limits
from crm_gateway.transcode import HttpRouter
from crm_runtime.db import Database
from crm_runtime.logging import get_logger
from crm_runtime.metrics import gauge
from crm_runtime.migrations import upgrade_head
from crm_runtime.pagination import PageTokens
from crm_runtime.server import (
    RunningService,
    ServiceDefinition,
    build_admission,
    build_signer,
    start_service,
)

log = get_logger("gateway")
audit_backlog = gauge(
    "crm.gateway.audit.backlog",
    unit="{record}",
    description="Audit records waiting to be written (calls are refused when it is full)",
)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def migrate(settings: GatewaySettings) -> None:
    """Bring the audit store to the newest schema."""
    Database(settings.database_url)  # Creates the SQLite folder when needed.
    upgrade_head(MIGRATIONS, settings.database_url)


@dataclass
class Gateway:
    """Everything a running gateway holds."""

    settings: GatewaySettings
    definition: ServiceDefinition
    gate: Gate
    routes: Routes
    audit: AuditLog
    api: GatewayApi
    openapi: dict[str, object]
    http: HttpFace
    jwt: JwtVerifier | None
    api_keys: ApiKeyStore | None
    events: PushEvents


def _upstream_tls(settings: GatewaySettings) -> UpstreamTls | None:
    if settings.upstream_tls_ca_file is None:
        return None
    return UpstreamTls(
        settings.upstream_tls_ca_file,
        settings.upstream_tls_cert_file,
        settings.upstream_tls_key_file,
        settings.upstream_tls_server_name,
    )


async def build(settings: GatewaySettings) -> Gateway:
    """Return the assembled gateway (not yet serving)."""
    database = Database(settings.database_url)
    chain_key = base64.b64decode(settings.audit_chain_key) if settings.audit_chain_key else b""
    audit = AuditLog(
        database,
        instance=settings.instance_name,
        key=chain_key or PUBLIC_CHAIN_KEY,
        flush_seconds=settings.audit_flush_seconds,
        batch_size=settings.audit_batch_size,
        max_backlog=settings.audit_max_backlog,
    )
    audit_backlog.add_value(audit, lambda log: log.backlog)
    jwt_verifier, jwks_source = None, None
    if settings.jwks_file is not None or settings.jwks_url:
        jwt_verifier = JwtVerifier(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            algorithms=settings.algorithms(),
            leeway_seconds=settings.jwt_leeway_seconds,
            roles_claim=settings.jwt_roles_claim,
            teams_claim=settings.jwt_teams_claim,
            max_lifetime_seconds=settings.jwt_max_lifetime_seconds,
        )
        jwks_source = JwksSource(
            jwt_verifier,
            file=settings.jwks_file,
            url=settings.jwks_url,
            refresh_seconds=settings.jwks_refresh_seconds,
        )
        await jwks_source.load()
    api_keys = None
    if settings.api_keys_file is not None:
        api_keys = ApiKeyStore(
            settings.api_keys_file,
            pepper=settings.api_key_pepper.encode(),
            reload_seconds=settings.api_keys_reload_seconds,
        )
    signer = build_signer(settings)
    assert signer is not None  # GatewaySettings requires the signing key.
    limits = build_limits(settings)  # In Redis, shared by every replica, when REDIS_URL is set.
    gate = Gate(
        rules=AccessRules.from_file(settings.access_rules_file),
        jwt=jwt_verifier,
        api_keys=api_keys,
        rates=limits.rates,
        auth_failures=limits.auth_failures,
        in_flight=InFlight(settings.max_in_flight_per_principal),
        streams=InFlight(settings.max_streams_per_principal),
        minter=IdentityMinter(signer),
        audit=audit,
    )
    tokens = PageTokens(settings.page_token_keys())
    api = GatewayApi(database, audit.key, tokens)
    methods = discover()
    upstreams = Upstreams(
        settings.upstreams(),
        tls=_upstream_tls(settings),
        max_message_bytes=settings.max_receive_message_bytes,
    )
    routes = Routes(methods, upstreams, api.methods())
    admission = build_admission(settings)  # Shared by both faces: one process, one limit.
    addresses = ClientAddresses(
        settings.trusted_proxy_header, settings.trusted_proxies.split(",")
    )
    proxy = GrpcProxy(
        gate,
        routes,
        default_deadline=settings.default_deadline_seconds,
        default_stream_deadline=settings.default_stream_deadline_seconds,
        admission=admission,
        addresses=addresses,
    )
    openapi = build_openapi(methods.values())
    assert settings.identity_signing_key_file is not None  # Required by GatewaySettings.
    events = PushEvents(
        gate,
        routes,
        EventTickets(
            settings.identity_signing_key_file.read_bytes(), settings.events_ticket_seconds
        ),
        addresses=addresses,
        admission=admission,
        stream_deadline=settings.default_stream_deadline_seconds,
        heartbeat_seconds=settings.events_heartbeat_seconds,
    )
    openapi["paths"].update(events.openapi_paths())
    console, attach_console = console_routes(settings)
    http = HttpFace(
        gate,
        routes,
        HttpRouter(methods.values()),
        openapi,
        default_deadline=settings.default_deadline_seconds,
        max_body_bytes=settings.max_http_body_bytes,
        admission=admission,
        addresses=addresses,
        extra_routes=[*events.routes(), *console],
    )
    attach_console(http.api_app())

    def register(server: grpc.aio.Server) -> None:
        server.add_generic_rpc_handlers((proxy,))

    async def stop() -> None:
        await audit.close()
        await upstreams.close()
        await limits.close()

    background = [audit.run] + ([jwks_source.run] if jwks_source is not None else [])
    definition = ServiceDefinition(
        name="gateway", settings=settings, database=database, service_names=(SERVICE_NAME,),
        register=register, background=background, on_stop=[stop],
        # The proxy authenticates, traces and maps errors itself (see proxy.py); the shared
        # interceptor would demand an internal identity that external callers never carry.
        interceptors=(),
        reflected_services=sorted(
            {i.service for i in methods.values() if upstreams.address_for(i.service)}
        ),
    )
    return Gateway(
        settings, definition, gate, routes, audit, api, openapi, http, jwt_verifier, api_keys,
        events,
    )


class EmbeddedHttpServer(uvicorn.Server):
    """uvicorn sharing the process: the gateway, not uvicorn, owns SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """Leave signal handling to the gateway's own stop sequence."""
        yield


@dataclass
class RunningGateway:
    """Both faces of a started gateway."""

    gateway: Gateway
    grpc: RunningService
    http_server: uvicorn.Server
    http_task: asyncio.Task[None]

    @property
    def http_port(self) -> int:
        """Return the bound HTTP port (useful with HTTP_PORT=0)."""
        sockets = [s for server in self.http_server.servers for s in server.sockets]
        return int(sockets[0].getsockname()[1])

    async def stop(self, *, drain_seconds: float | None = None) -> None:
        """Stop gracefully: NOT_SERVING, wait for routing to notice, let both faces finish
        their calls, then flush the audit log and close the upstream channels."""
        await self.grpc.health.enter_graceful_shutdown()
        drain = self.gateway.settings.drain_seconds if drain_seconds is None else drain_seconds
        if drain > 0:
            await asyncio.sleep(drain)
        self.gateway.events.close_streams()  # Clients resume at another replica.
        self.http_server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self.http_task
        await self.grpc.stop(drain_seconds=0)


async def start(gateway: Gateway) -> RunningGateway:
    """Start the gRPC server and the HTTP server in the running event loop."""
    running = await start_service(gateway.definition)
    settings = gateway.settings
    config = uvicorn.Config(
        gateway.http.app(),
        host=settings.http_host,
        port=settings.http_port,
        lifespan="off",
        access_log=False,
        # The client address comes from HttpFace with the gateway's own trusted-proxy rules.
        proxy_headers=False,
        log_config=None,
        timeout_graceful_shutdown=int(settings.grace_seconds),
        **settings.http_tls_options(),
    )
    http_server = EmbeddedHttpServer(config)
    http_task = asyncio.create_task(http_server.serve())
    while not http_server.started:
        if http_task.done():
            await http_task  # Raises the bind error.
            raise RuntimeError("HTTP server stopped during startup")
        await asyncio.sleep(0.01)
    log.info("http serving", port=http_server.servers[0].sockets[0].getsockname()[1])
    return RunningGateway(gateway, running, http_server, http_task)


async def serve(settings: GatewaySettings) -> None:
    """Run until SIGTERM or SIGINT, then stop gracefully."""
    running = await start(await build(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down", service="gateway")
    await running.stop()
