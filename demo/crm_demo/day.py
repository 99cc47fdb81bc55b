"""The demo day, step by step, on a running platform; then the report.

`run_day` is what `python -m crm_demo` runs after starting the services, and what the report
test runs on a small portfolio (a 60-client `Scale`). Each step prints its own story; at the end
the figures are read back from the APIs into one structure (crm_demo.report_data), which the
terminal summary and the HTML report both render.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import grpc

from crm.notify.v1 import notify_service_pb2, notify_service_pb2_grpc
from crm_demo import (
    approvals,
    communication,
    feedback_day,
    groups,
    html_report,
    monitoring,
    ratings,
    risk_day,
    summary,
    through_gateway,
)
from crm_demo.launcher import Platform
from crm_demo.loader import load_portfolio
from crm_demo.portfolio import generate_portfolio
from crm_demo.progress import bar
from crm_demo.providers import SmsGateway, SmtpServer
from crm_demo.report import report
from crm_demo.report_data import collect
from crm_runtime.auth import Role

NEEDED = ("client", "risk", "notify", "feedback", "gateway")


@dataclass(frozen=True)
class Scale:
    """How much of everything the day uses. Groups take the last nine clients."""

    clients: int = 1200
    monitored: int = 200  # the first clients; risk_day moves three of them past due
    rated: int = 300  # the clients after the monitored ones
    approval_cases: int = 400
    surveyed: int = 120

    @classmethod
    def for_clients(cls, clients: int) -> Scale:
        """Return the default day for 1,200 clients or more, a proportionally smaller one below.

        Raise ValueError under 60 clients: the steps need distinct clients for monitoring,
        ratings and the credit group.
        """
        if clients < 60:
            raise ValueError("the demo day needs at least 60 clients")
        if clients >= cls.clients:
            return cls(clients=clients)
        return cls(clients=clients, monitored=clients // 6, rated=clients // 4,
                   approval_cases=max(40, clients // 3), surveyed=max(12, clients // 10))


def service_settings(sms: SmsGateway, smtp: SmtpServer) -> dict[str, dict[str, str]]:
    """Return the settings that point notify at the demo's providers and pace the workers."""
    return {
        "notify": {
            **sms.notify_env(),
            **smtp.notify_env(),
            "RISK_OFFICERS": communication.RISK_OFFICER,
            "DEFAULT_TEAM_LEAD": communication.TEAM_LEAD,
            "ESCALATION_INTERVAL_SECONDS": "2",
        },
        # Triggered surveys go out at the next pass: a second, not the default half minute.
        "feedback": {"SCHEDULER_INTERVAL_SECONDS": "1"},
    }


async def run_day(platform: Platform, scale: Scale, *, seed: int, as_of: date,
                  sms: SmsGateway, smtp: SmtpServer) -> dict[str, Any]:
    """Load the portfolio, run every step, and return the report's data."""
    missing = [name for name in NEEDED if name not in platform.services]
    if missing:
        raise RuntimeError(f"the demo day needs every service; missing: {', '.join(missing)}")
    services = platform.services
    identity = platform.identity
    laps = Laps()
    portfolio = generate_portfolio(n_clients=scale.clients, seed=seed, as_of=as_of)
    print(f"Loading {len(portfolio)} synthetic corporate clients (seed {seed}) ...")
    with bar("importing the book (ImportClients)", len(portfolio)) as advance:
        loaded = await load_portfolio(services["client"].address, identity, portfolio, advance)
    risk, client = services["risk"], services["client"]
    steps: dict[str, Any] = {}
    laps.mark("load")
    with bar("reading segments and recommendations back", None):
        steps["client"] = await report(client.address, identity, portfolio, loaded, as_of=as_of)
        laps.mark("client")
    steps["monitoring"] = await monitoring.run(risk, client, identity, portfolio, loaded,
                                               clients=scale.monitored)
    laps.mark("monitoring")
    steps["ratings"] = await ratings.run(risk, client, identity, portfolio, loaded,
                                         first=scale.monitored, count=scale.rated)
    laps.mark("ratings")
    with bar("credit group, guarantee circle and contagion", None):
        steps["groups"] = await groups.run(risk, client, identity, portfolio, loaded)
        laps.mark("groups")
    steps["gateway"] = await through_gateway.run(services["gateway"], platform.sso, portfolio,
                                                 loaded)
    laps.mark("gateway")
    with bar("approval-stage events", None):
        steps["approvals"] = await approvals.run(services["feedback"].address, identity,
                                                 cases=scale.approval_cases)
        laps.mark("approvals")
    steps["risk_day"] = await risk_day.run(risk, identity, portfolio, loaded,
                                           rated_from=scale.monitored)
    laps.mark("risk_day")
    steps["feedback"] = await feedback_day.run(platform, portfolio, loaded,
                                               surveyed=scale.surveyed)
    laps.mark("feedback")
    steps["communication"] = await communication.run(services["notify"], identity, portfolio,
                                                     sms, smtp)
    laps.mark("communication")
    with bar("waiting for the last events to settle", None):
        await quiet(platform)
    with bar("reading the report's figures back from the APIs", None):
        data = await collect(platform, period=feedback_day.quarter(datetime.now(UTC)),
                             steps=steps)
    laps.mark("collect")
    # What the demo's own providers hold now, beside notify's figures read just before.
    providers = {"sms_received": len(sms.received), "mails_received": smtp.mailbox.count()}
    return {**data, "providers": providers, "seconds": laps.seconds}


async def quiet(platform: Platform, *, calm_seconds: float = 2.0) -> None:
    """Return once notify has written no new message for `calm_seconds` (at most a minute).

    Events are still moving when the last step ends (a re-rating asked for by a past-due
    loan, a visit's warning): the report should show the platform at rest, not mid-flight.
    """
    ops = platform.identity.metadata("staff/ops-demo", Role.OPS)
    newest, calm = "", 0.0
    async with grpc.aio.insecure_channel(platform.services["notify"].address) as channel:
        stub = notify_service_pb2_grpc.NotificationServiceStub(channel)
        for _ in range(120):
            page = await stub.ListMessages(
                notify_service_pb2.ListMessagesRequest(page_size=1), metadata=ops)
            latest = page.messages[0].name if page.messages else ""
            calm = calm + 0.5 if latest == newest else 0.0
            newest = latest
            if calm >= calm_seconds:
                return
            await asyncio.sleep(0.5)


class Laps:
    """Seconds each step took (wall clock on whatever machine runs the demo)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.monotonic()

    def mark(self, step: str) -> None:
        """Record the time since the previous mark as `step`'s."""
        now = time.monotonic()
        self.seconds[step] = round(now - self._last, 1)
        self._last = now


def write_outputs(data: dict[str, Any], folder: Path) -> Path:
    """Write summary.json and report.html into `folder`; print the summary; return the page."""
    (folder / "summary.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    page = html_report.write(data, folder / "report.html")
    summary.show(data)
    return page
