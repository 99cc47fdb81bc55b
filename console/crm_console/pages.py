"""What every page handler shares: the signed-in person, forms with CSRF, rendering, refusals."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from crm_console import charts, fmt
from crm_console.i18n import language_of, translator
from crm_console.session import COOKIE_NAME, Session, SessionCodec
from crm_console.upstream import GatewayCalls, Query, Refusal

TEMPLATES = Path(__file__).resolve().parent / "templates"
MAX_FORM_BYTES = 64 * 1024
_HTTP_REFUSED = {401, 403, 404}


@dataclass
class Page:
    """One request of a signed-in person."""

    request: Request
    person: Session
    origin: str
    language: str
    shell: Shell

    async def get(self, path: str, query: Query | None = None) -> dict[str, Any]:
        """GET from the API as this person."""
        return await self.shell.calls.get(self.person, self.origin, path, query,
                                          language=self.language)

    async def post(
        self, path: str, body: dict[str, Any], query: Query | None = None
    ) -> dict[str, Any]:
        """POST to the API as this person (a body bound to one field: the rest in `query`)."""
        return await self.shell.calls.post(self.person, self.origin, path, body, query=query,
                                           language=self.language)

    async def patch(
        self, path: str, body: dict[str, Any], query: Query | None = None
    ) -> dict[str, Any]:
        """PATCH through the API as this person."""
        return await self.shell.calls.patch(self.person, self.origin, path, body, query=query,
                                            language=self.language)

    async def get_or_refusal(
        self, path: str, query: Query | None = None
    ) -> dict[str, Any] | Refusal:
        """GET, answering the refusal instead of raising it (a part of a page)."""
        return await self.shell.calls.get_or_none(self.person, self.origin, path, query)

    async def gather(
        self, calls: dict[str, tuple[str, Query | None]]
    ) -> dict[str, dict[str, Any] | Refusal]:
        """Several GETs at once (each answer or its refusal)."""
        return await self.shell.calls.gather(self.person, self.origin, calls)

    async def form(self) -> dict[str, str]:
        """Return the posted form; raise Refusal unless it carries this session's CSRF token."""
        body = await self.request.body()
        if len(body) > MAX_FORM_BYTES:
            raise Refusal(413, "FORM_TOO_LARGE", "the form is too large")
        fields = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        if fields.get("csrf") != self.person.csrf:
            raise Refusal(403, "CSRF_TOKEN_MISMATCH", "the form is stale; reload the page")
        return fields

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        """Render a page template with the layout's values."""
        return self.shell.render(self.request, template, status, person=self.person, **values)


class Shell:
    """Templates, sessions and the API client of the console."""

    def __init__(self, codec: SessionCodec, calls: GatewayCalls, *, secure: bool) -> None:
        self.codec = codec
        self.calls = calls
        self.secure = secure
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html"]),
            enable_async=False,
        )
        self.env.globals.update(chart=charts, fmt=fmt)

    def render(
        self, request: Request, template: str, status: int = 200, **values: Any
    ) -> HTMLResponse:
        """Render `template` in the request's language."""
        language = language_of(request)
        html = self.env.get_template(template).render(
            t=translator(language), lang=language,
            # The language links reload the page; after a form post that is the start page.
            path=request.url.path if request.method == "GET" else "/console/", **values
        )
        response = HTMLResponse(html, status_code=status)
        if request.query_params.get("lang") == language:
            response.set_cookie("lang", language, httponly=True, samesite="strict",
                                secure=self.secure, path="/console")
        return response

    def session_of(self, request: Request) -> Session | None:
        """Return the live session of the request, if any."""
        sealed = request.cookies.get(COOKIE_NAME, "")
        person = self.codec.open(sealed) if sealed else None
        return None if person is None or person.expired else person

    def set_session(self, response: Response, person: Session) -> None:
        """Put the sealed session in an HttpOnly, SameSite=Strict cookie."""
        response.set_cookie(
            COOKIE_NAME,
            self.codec.seal(person),
            max_age=max(0, int(person.expires - time.time())),
            httponly=True,
            samesite="strict",
            secure=self.secure,
            path="/console",
        )


Handler = Callable[[Page], Awaitable[Response]]


def signed_in(shell: Shell) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a handler: no session → the login page; an API refusal → the refusal page."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            person = shell.session_of(request)
            if person is None:
                # Back to a page after signing in; a form's target is no page to return to.
                back = f"?next={request.url.path}" if request.method == "GET" else ""
                return RedirectResponse(f"/console/login{back}", 303)
            origin = request.client.host if request.client else ""
            page = Page(request, person, origin, language_of(request), shell)
            try:
                return await handler(page)
            except Refusal as refusal:
                status = refusal.status if refusal.status in _HTTP_REFUSED else 400
                if refusal.status in (429, 503):
                    status = refusal.status
                return page.render("refused.html", status, refusal=refusal)

        return endpoint

    return wrap


def answer(found: dict[str, Any] | Refusal, key: str) -> list[dict[str, Any]]:
    """Return the list under `key` of an answer, or [] when that part was refused."""
    if isinstance(found, Refusal):
        return []
    items = found.get(key, [])
    return list(items) if isinstance(items, list) else []


def then(path: str) -> RedirectResponse:
    """Redirect after a form (POST/redirect/GET), so a reload does not post again."""
    return RedirectResponse(path, status_code=303)
