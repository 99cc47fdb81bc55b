"""The main job: start the platform on SQLite, load a realistic portfolio, show what it found.

Run with `./run.sh demo` (or `python -m crm_demo --clients 1200 [--keep-running]`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from crm_demo import approvals, groups, monitoring, ratings, through_gateway
from crm_demo.launcher import ROOT, new_platform
from crm_demo.loader import load_portfolio
from crm_demo.portfolio import generate_portfolio
from crm_demo.report import report


async def _main(args: argparse.Namespace) -> int:
    as_of = datetime.now(UTC).date()
    platform = new_platform(Path(args.dir))
    print(f"Starting services (stores and logs in {args.dir}) ...")
    try:
        platform.start_all(tuple(args.services.split(",")) if args.services else None)
        await platform.wait_ready()
        print("  " + ", ".join(f"{n} at {s.address}" for n, s in platform.services.items()))
        client = platform.services["client"]
        portfolio = generate_portfolio(n_clients=args.clients, seed=args.seed, as_of=as_of)
        print(f"Loading {len(portfolio)} synthetic corporate clients (seed {args.seed}) ...")
        loaded = await load_portfolio(client.address, platform.identity, portfolio)
        figures: dict[str, object] = {
            "client": await report(
                client.address, platform.identity, portfolio, loaded, as_of=as_of
            )
        }
        if "risk" in platform.services:
            figures["monitoring"] = await monitoring.run(
                platform.services["risk"], client, platform.identity, portfolio, loaded
            )
        if "risk" in platform.services:
            figures["ratings"] = await ratings.run(
                platform.services["risk"], client, platform.identity, portfolio, loaded
            )
        if "risk" in platform.services:
            figures["groups"] = await groups.run(
                platform.services["risk"], client, platform.identity, portfolio, loaded
            )
        if "gateway" in platform.services:
            figures["gateway"] = await through_gateway.run(
                platform.services["gateway"], platform.sso, portfolio, loaded
            )
        if "feedback" in platform.services:
            figures["approvals"] = await approvals.run(
                platform.services["feedback"].address, platform.identity
            )
        (Path(args.dir) / "summary.json").write_text(json.dumps(figures, indent=2) + "\n")
        if args.keep_running:
            print("\nServices keep running; Ctrl-C stops them.")
            await asyncio.Event().wait()
    finally:
        platform.stop()
    return 0


def main() -> int:
    """Parse arguments and run the demo."""
    parser = argparse.ArgumentParser(prog="crm_demo", description=__doc__)
    parser.add_argument("--clients", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--dir", default=str(ROOT / "var" / "demo"))
    parser.add_argument("--keep-running", action="store_true")
    parser.add_argument("--services", default="", help="comma list; default: every service")
    return asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
