"""`crm_admin migrate <service>|all`: bring stores to the newest schema.

The same migrations each service's initContainer runs (`python -m crm_<service>.migrate`),
for an operator's shell or a one-off Job. Each service reads its own settings from the
environment (DATABASE_URL), so `all` suits a machine where every store has its default
location; on a cluster, migrate one service at a time with that service's environment.
"""

from __future__ import annotations

import argparse

from crm_admin import services


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the migrate command."""
    parser = commands.add_parser("migrate", help="apply migrations to a service's store")
    parser.add_argument("service", choices=[*services.MIGRATABLE, "all"])
    parser.add_argument("--database-url", default="", help="default: the service's own")
    parser.set_defaults(run=run)


def _migrate(name: str, database_url: str) -> None:
    from crm_admin.settings import AdminGatewaySettings
    from crm_gateway.app import MIGRATIONS as GATEWAY_MIGRATIONS
    from crm_runtime import kit
    from crm_runtime.db import Database
    from crm_runtime.migrations import upgrade_head

    if name == "gateway":
        url = database_url or AdminGatewaySettings().database_url
        Database(url)  # Creates the SQLite folder when needed, as the gateway does.
        upgrade_head(GATEWAY_MIGRATIONS, url)
    else:
        kit.migrate(services.spec(name), services.settings(name, database_url))
    print(f"{name}: migrated")


def run(args: argparse.Namespace) -> int:
    """Run the migrate command; return the exit status."""
    if args.service == "all" and args.database_url:
        raise ValueError("--database-url names one store: give one service with it")
    for name in services.MIGRATABLE if args.service == "all" else (args.service,):
        _migrate(name, args.database_url)
    return 0
