"""Mounts the staff workbench (console/crm_console) on the HTTP face, when it is installed.

The console is a separate package (its templates are not part of the API); a gateway image
without it serves the API alone. It calls the API in-process through `HttpFace.api_app()`, so
every page's calls pass the same gate as any other caller's.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from crm_gateway.config import GatewaySettings
from crm_runtime.logging import get_logger

log = get_logger("gateway")


def console_routes(settings: GatewaySettings) -> tuple[list[BaseRoute], Callable[[ASGIApp], None]]:
    """Return the console's routes and the function that hands it the API application."""
    if not settings.console_enabled or importlib.util.find_spec("crm_console") is None:
        return [], lambda _: None
    from crm_console.app import Console  # Optional package, see above.

    console = Console(
        sso_token_url=settings.console_sso_token_url,
        session_key=settings.console_session_key,
        secure_cookies=settings.console_secure_cookies or settings.http_tls,
        roles_claim=settings.jwt_roles_claim,
        teams_claim=settings.jwt_teams_claim,
    )
    log.info("console mounted", path="/console/", sso=bool(settings.console_sso_token_url))
    return console.routes(), console.attach
