"""The main job: start the platform on SQLite, run the demo day, write the report.

Run with `./run.sh demo [--serve]` (or `python -m crm_demo --clients 1200 [--serve]`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time
from datetime import UTC, date, datetime
from pathlib import Path

from crm_demo.day import Scale, run_day, service_settings, write_outputs
from crm_demo.launcher import ROOT, Platform, new_platform
from crm_demo.portfolio import generate_portfolio, rm_roster
from crm_demo.progress import waiting
from crm_demo.providers import SmsGateway, SmtpServer
from crm_demo.sso_endpoint import TokenEndpoint, demo_directory


async def _main(args: argparse.Namespace) -> int:
    started = time.monotonic()
    scale = Scale.for_clients(args.clients)
    folder = Path(args.dir)
    platform = new_platform(folder)
    sms, smtp = SmsGateway(), SmtpServer()
    await sms.start()
    smtp.start()
    print(f"Starting services (stores and logs in {folder}); SMTP server on port {smtp.port}, "
          f"SMS gateway on port {sms.port} ...")
    as_of = datetime.now(UTC).date()
    sign_in = _sign_in(platform, scale, args.seed, as_of)
    try:
        platform.start_all(settings=service_settings(sms, smtp))
        await waiting("services starting", platform.wait_ready())
        print("  " + ", ".join(f"{n} at {s.address}" for n, s in platform.services.items()))
        data = await run_day(platform, scale, seed=args.seed, as_of=as_of,
                             sms=sms, smtp=smtp)
        page = write_outputs(data, folder)
        print(f"\nReport: {page}")
        if data["console"]:
            print(f"Workbench (console): {data['console']}  sign in as an RM (rm-001), a risk "
                  "officer (risk-01, risk-02) or a team lead (lead-<team>, e.g. lead-bj-1)")
        print(f"Demo day finished in {time.monotonic() - started:.0f} s.")
        if args.serve:
            print("\nServices, SMTP server and SMS gateway keep running; Ctrl-C stops them.")
            await _until_stopped()
    finally:
        platform.stop()
        sign_in.stop()
        smtp.stop()
        await sms.close()
    return 0


def _sign_in(platform: Platform, scale: Scale, seed: int, as_of: date) -> TokenEndpoint:
    """Start the demo SSO's token endpoint for the console's login page.

    Its directory is the book's RMs with their teams (the same deterministic portfolio the day
    loads), each team's lead, and the risk officers, ops and auditor of the demo staff; the
    gateway learns its address (CONSOLE_SSO_TOKEN_URL) when it starts.
    """
    book = generate_portfolio(n_clients=scale.clients, seed=seed, as_of=as_of)
    pairs = [(rm, team) for team, managers in rm_roster(book).items() for rm in managers]
    endpoint = TokenEndpoint(platform.sso, demo_directory(pairs)).start()
    platform.sso.token_url = endpoint.url
    return endpoint


async def _until_stopped() -> None:
    """Wait for Ctrl-C (SIGINT) or SIGTERM.

    Handled here rather than left to KeyboardInterrupt: a demo started in the background of a
    script inherits SIGINT ignored, and `kill` should stop it as cleanly as Ctrl-C.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    print("\nStopping ...")


def main() -> int:
    """Parse arguments and run the demo."""
    parser = argparse.ArgumentParser(prog="crm_demo", description=__doc__)
    parser.add_argument("--clients", type=int, default=Scale.clients)
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--dir", default=str(ROOT / "var" / "demo"))
    parser.add_argument("--serve", "--keep-running", dest="serve", action="store_true",
                        help="keep everything running after the report until Ctrl-C")
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_main(parser.parse_args()))
    print("\nStopped.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
