"""The client service as the kit sees it: its context, servicer, event handlers and seeds."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from crm.client.v1 import client_service_pb2_grpc
from crm_client.config import ClientSettings
from crm_client.context import ClientContext
from crm_client.events import handlers
from crm_client.models import ClientRow, KeyPersonRow
from crm_client.segments import seed_builtin_segments
from crm_client.servicer import ClientServicer
from crm_runtime import kit
from crm_runtime.readcache import ReadCache
from crm_runtime.rekey import EncryptedTable
from crm_runtime.server import ServiceDefinition

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Every column sealed with the personal-data keyring, with the context it is bound to
# (crm_client.people writes them).
ENCRYPTED = [
    EncryptedTable(
        KeyPersonRow,
        "seq",
        {
            "name_enc": "key_person.name",
            "income_band_enc": "key_person.income_band",
            "id_number_enc": "key_person.id_number",
            "mobile_enc": "key_person.mobile",
        },
    )
]


async def _context(parts: kit.Parts[ClientSettings]) -> ClientContext:
    database = parts.database
    return ClientContext(
        db=database,
        cipher=parts.cipher(),
        outbox=parts.outbox,
        tokens=parts.tokens,
        client_cache=ReadCache(
            ClientRow, "id", enabled=database.is_sqlite and parts.settings.read_cache
        ),
    )


def _close(ctx: ClientContext) -> Sequence[Callable[[], Awaitable[None]]]:
    async def close_cache() -> None:
        if ctx.client_cache is not None:
            ctx.client_cache.close()

    return [close_cache]


SPEC = kit.ServiceSpec(
    name="client",
    settings=ClientSettings,
    migrations=MIGRATIONS,
    service="crm.client.v1.ClientService",
    context=_context,
    servicers=[
        kit.Servicer(client_service_pb2_grpc.add_ClientServiceServicer_to_server, ClientServicer)
    ],
    event_handlers=handlers,
    seeds=[seed_builtin_segments],
    on_close=_close,
    encrypted=ENCRYPTED,
)


def migrate(settings: ClientSettings) -> None:
    """Bring the store to the newest schema."""
    kit.migrate(SPEC, settings)


async def build(settings: ClientSettings) -> tuple[ServiceDefinition, ClientContext]:
    """Return the service definition and its context (tests use the context's clock)."""
    return await kit.build(SPEC, settings)
