"""`crm_admin audit verify`: recompute the gateway's audit hash chains.

Exits 1 when any chain is broken (a record edited, removed or inserted), naming where, so a
scheduled job fails loudly; 0 when every chain is intact.
"""

from __future__ import annotations

import argparse
import asyncio
import json


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the audit sub-commands."""
    parser = commands.add_parser("audit", help="the gateway's audit log")
    sub = parser.add_subparsers(dest="action", required=True)
    verify = sub.add_parser("verify", help="verify every hash chain; exit 1 on a break")
    verify.add_argument("--chain", default="", help="only this chain")
    verify.add_argument("--database-url", default="", help="default: the gateway's own")
    verify.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


async def _verify(args: argparse.Namespace) -> int:
    from crm_admin.settings import AdminGatewaySettings
    from crm_gateway.audit_query import verify_chains
    from crm_runtime.db import Database

    settings = AdminGatewaySettings()
    database = Database(args.database_url or settings.database_url)
    try:
        result = await verify_chains(database, settings.chain_key(), chain=args.chain)
    finally:
        await database.dispose()
    breaks = [
        {"chain": b.chain, "sequence": b.sequence, "record_id": b.record_id, "problem": b.problem}
        for b in result.breaks
    ]
    if args.json:
        print(json.dumps({"chains": result.chain_count, "records": result.record_count,
                          "intact": result.intact, "breaks": breaks}))
    else:
        print(f"{result.chain_count} chains, {result.record_count} records checked")
        for b in breaks:
            print(f"BROKEN chain {b['chain']} at record {b['sequence']}: {b['problem']}")
        print("intact" if result.intact else "audit chain broken")
    return 0 if result.intact else 1


def run(args: argparse.Namespace) -> int:
    """Run an audit sub-command; return the exit status."""
    return asyncio.run(_verify(args))
