"""`crm_admin keys generate|status|rotate`: personal-data keys and their rotation.

Rotation, end to end (docs/KUBERNETES.md, "Keys and rotation"): `keys generate` a key, add it
to PII_KEYRING and make it PII_ACTIVE_KEY_ID, restart the service (new data is sealed with
it, old data still opens), let its background task (or `keys rotate`) re-encrypt the rest,
and once `keys status` shows no rows under the old key id, remove that key from the ring.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import TYPE_CHECKING, Any

from crm_admin import services
from crm_runtime.crypto import FieldCipher, decode_key
from crm_runtime.keyring import KeyringError, check_key_id, new_key

if TYPE_CHECKING:
    from crm_runtime.rekey import KeyStatus

# Exit status when stored data names a key the ring lacks (distinct from usage errors).
MISSING_KEY_STATUS = 3


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the keys sub-commands."""
    parser = commands.add_parser("keys", help="personal-data keys: generate, status, rotate")
    sub = parser.add_subparsers(dest="action", required=True)
    generate = sub.add_parser("generate", help="print a new key as key_id:base64 for a ring")
    generate.add_argument("key_id")
    status = sub.add_parser("status", help="values under each key id, per encrypted column")
    rotate = sub.add_parser("rotate", help="re-encrypt every value onto the active key now")
    for command in (status, rotate):
        command.add_argument("service", choices=services.SERVICES)
        command.add_argument("--database-url", default="", help="default: the service's own")
        command.add_argument("--json", action="store_true", help="print JSON")
    rotate.add_argument("--batch-size", type=int, default=200)
    parser.set_defaults(run=run)


def _cipher(settings: Any) -> FieldCipher:
    ring = settings.pii_keys()
    if ring is None:
        raise KeyringError("PII_KEYRING (or PII_ENCRYPTION_KEY) is not set")
    return FieldCipher(ring, decode_key(settings.pii_index_key, name="PII_INDEX_KEY"))


def _report(service: str, status: KeyStatus, *, as_json: bool, moved: int | None) -> None:
    if as_json:
        document: dict[str, object] = {
            "service": service, "active_key_id": status.active, "columns": status.counts,
            "pending": status.pending, "unreadable": status.unreadable,
            "unknown_key_ids": sorted(status.unknown_ids),
        }
        if moved is not None:
            document["reencrypted"] = moved
        print(json.dumps(document))
        return
    if moved is not None:
        print(f"{service}: re-encrypted {moved} values")
    print(f"{service}: active key {status.active}")
    for column, per_key in status.counts.items():
        cells = "  ".join(f"{kid}={n}" for kid, n in per_key.items() if n or kid != "?")
        print(f"  {column}  {cells}")
    print(f"  values not under the active key: {status.pending}")
    if not status.counts:
        print("  (this service keeps no values sealed with the personal-data keyring)")


async def _run(args: argparse.Namespace) -> int:
    from crm_runtime.db import Database
    from crm_runtime.rekey import key_status, missing_keys_message, reencrypt_pass

    spec = services.spec(args.service)
    settings = services.settings(args.service, args.database_url)
    cipher = _cipher(settings)
    database = Database(settings.database_url)
    try:
        moved = None
        if args.action == "rotate":
            moved = 0
            for table in spec.encrypted:
                moved += await reencrypt_pass(database, cipher, table, batch_size=args.batch_size)
        status = await key_status(database, cipher, spec.encrypted)
    finally:
        await database.dispose()
    _report(args.service, status, as_json=args.json, moved=moved)
    if status.unreadable:
        print(missing_keys_message(status))
        return MISSING_KEY_STATUS
    return 0 if args.action == "status" or status.pending == 0 else 1


def run(args: argparse.Namespace) -> int:
    """Run a keys sub-command; return the exit status."""
    if args.action == "generate":
        print(f"{check_key_id(args.key_id)}:{new_key()}")
        return 0
    return asyncio.run(_run(args))
