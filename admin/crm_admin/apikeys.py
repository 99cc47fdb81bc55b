"""`crm_admin apikey create|revoke|list`: the gateway's API keys file.

The gateway re-reads the file when it changes (API_KEYS_RELOAD_SECONDS), so a key created or
revoked here is live within seconds where the gateway reads this very file; in Kubernetes the
file is a Secret, updated from the file this command wrote (docs/KUBERNETES.md).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

# The roles a system may hold (crm_runtime.auth.Role), listed here so that `--help` does not
# import the platform; run() checks them against Role itself.
ROLES = ("relationship_manager", "team_lead", "risk_officer", "credit_approver", "ops",
         "auditor", "system")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the apikey sub-commands."""
    parser = commands.add_parser("apikey", help="create, revoke and list API keys of systems")
    sub = parser.add_subparsers(dest="action", required=True)
    create = sub.add_parser("create", help="make a key; it is printed once, only its hash kept")
    create.add_argument("key_id", help="the key's id (lower-case letters, digits, hyphens)")
    create.add_argument("--system", required=True, help="the calling system's name")
    create.add_argument(
        "--role", action="append", required=True, choices=ROLES,
        help="a role the system acts with (repeat for several)",
    )
    revoke = sub.add_parser("revoke", help="revoke a key (kept, marked revoked)")
    revoke.add_argument("key_id")
    listing = sub.add_parser("list", help="list keys (ids, systems, roles, state; no hashes)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    for command in (create, revoke, listing):
        command.add_argument("--file", type=Path, help="keys file (default: API_KEYS_FILE)")
    parser.set_defaults(run=run)


def _file(args: argparse.Namespace, settings: Any) -> Path:
    file: Path | None = args.file or settings.api_keys_file
    if file is None:
        raise ValueError("give --file or set API_KEYS_FILE")
    return file


def run(args: argparse.Namespace) -> int:
    """Run an apikey sub-command; return the exit status."""
    # Imported here: every command pays only for what it uses (an operator's shell is slow
    # enough already on a busy node).
    from crm_admin.settings import AdminGatewaySettings
    from crm_gateway.apikeys import new_api_key, read_keys_file, write_keys_file
    from crm_runtime.auth import Role

    settings = AdminGatewaySettings()
    file = _file(args, settings)
    entries = {e.key_id: e for e in read_keys_file(file)}
    if args.action == "create":
        if args.key_id in entries:
            raise ValueError(f"key id {args.key_id!r} exists; revoke it and use a new id")
        key, entry = new_api_key(
            args.key_id, args.system, [Role(r) for r in args.role],
            pepper=settings.api_key_pepper.encode(),
        )
        write_keys_file(file, [*entries.values(), entry])
        print(key)  # Shown once: the file keeps only its hash.
        return 0
    if args.action == "revoke":
        if args.key_id not in entries:
            raise ValueError(f"no key with id {args.key_id!r}")
        entries[args.key_id] = replace(entries[args.key_id], revoked=True)
        write_keys_file(file, entries.values())
        print(f"revoked {args.key_id}")
        return 0
    listed = sorted(entries.values(), key=lambda e: e.key_id)
    if args.json:
        print(json.dumps([{k: v for k, v in e.to_json().items() if k != "hash"} for e in listed]))
        return 0
    for e in listed:
        roles = ",".join(sorted(str(r) for r in e.roles))
        print(f"{e.key_id}\t{e.system}\t{roles}\t{'revoked' if e.revoked else 'active'}")
    return 0
