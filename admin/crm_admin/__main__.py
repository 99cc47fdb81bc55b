"""`python -m crm_admin <command>`: the operator's commands.

    apikey create|revoke|list   the gateway's API keys file
    keys generate|status|rotate personal-data keys and their rotation
    audit verify                the gateway's audit hash chains (exit 1 on a break)
    migrate <service>|all       schema migrations

Exit status: 0 done, 1 the check failed (a broken chain, values left to re-encrypt),
2 a usage or configuration error, 3 stored data names a key the ring lacks.
"""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from crm_admin import apikeys, audit, keys, migrate


def parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    root = argparse.ArgumentParser(prog="python -m crm_admin", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = root.add_subparsers(dest="command", required=True)
    for module in (apikeys, keys, audit, migrate):
        module.add_commands(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit status."""
    args = parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except (ValueError, ValidationError) as exc:
        # Configuration and usage mistakes: one line, no traceback, no secret values.
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if not type(exc).__module__.startswith("sqlalchemy."):
            raise
        # Most often a store that is not there or not migrated: say what the driver said.
        print(f"error: store: {getattr(exc, 'orig', None) or exc}", file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":
    sys.exit(main())
