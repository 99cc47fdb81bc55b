"""Assembly: the console's routes under /console/, mounted by the gateway's HTTP face."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from crm_console import manager_pages, risk_pages, rm_pages
from crm_console.login import Login
from crm_console.pages import Handler, Shell, signed_in
from crm_console.session import SessionCodec
from crm_console.upstream import GatewayCalls

STATIC = Path(__file__).resolve().parent / "static"
PREFIX = "/console"


class Console:
    """The workbench: build it, mount `routes()`, then `attach` the gateway's API application."""

    def __init__(
        self,
        *,
        sso_token_url: str,
        session_key: str = "",
        secure_cookies: bool = False,
        roles_claim: str = "roles",
        teams_claim: str = "teams",
    ) -> None:
        self.calls = GatewayCalls()
        self.shell = Shell(SessionCodec(session_key), self.calls, secure=secure_cookies)
        self.login = Login(self.shell, sso_token_url, roles_claim=roles_claim,
                           teams_claim=teams_claim)

    def attach(self, api: ASGIApp) -> None:
        """Give the console the API it calls on people's behalf."""
        self.calls.attach(api)

    def routes(self) -> list[BaseRoute]:
        """Return the one mount the gateway adds to its HTTP face."""
        page = signed_in(self.shell)

        def get(path: str, handler: Handler) -> Route:
            return Route(path, page(handler), methods=["GET"])

        def post(path: str, handler: Handler) -> Route:
            return Route(path, page(handler), methods=["POST"])

        def both(path: str, handler: Handler) -> Route:
            return Route(path, page(handler), methods=["GET", "POST"])

        login_form: Callable[[Request], Awaitable[Response]] = self.login.form
        return [Mount(PREFIX, routes=[
            Route("/", self.login.home, methods=["GET"]),
            Route("/login", login_form, methods=["GET"]),
            Route("/login", self.login.submit, methods=["POST"]),
            Route("/logout", self.login.logout, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
            get("/clients", rm_pages.clients),
            get("/clients/{client_id}", rm_pages.client),
            post("/clients/{client_id}/keyPersons/{person_id}/unmask", risk_pages.unmask),
            post("/clients/{client_id}/overrides", risk_pages.propose_override),
            get("/work", rm_pages.work),
            post("/warnings/{warning_id}/{action}", rm_pages.warning_action),
            post("/tasks/{task_id}/complete", rm_pages.complete_task),
            get("/visits", rm_pages.visits),
            post("/visits", rm_pages.record_visit),
            get("/risk/warnings", risk_pages.warning_queue),
            get("/overrides", risk_pages.overrides),
            get("/overrides/view", risk_pages.override),
            post("/overrides/{decision}", risk_pages.decide_override),
            both("/risk/concentration", risk_pages.concentration),
            both("/risk/rules", risk_pages.rules),
            get("/manager/kpi", manager_pages.kpi),
            get("/manager/satisfaction", manager_pages.satisfaction),
            get("/manager/bottlenecks", manager_pages.bottlenecks),
            both("/manager/campaigns", manager_pages.campaigns),
        ])]
