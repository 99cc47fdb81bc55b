"""Sign in through the bank's SSO token endpoint, sign out, and the role's start page."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import parse_qs

import httpx
import jwt
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from crm_console.pages import MAX_FORM_BYTES, Shell, then
from crm_console.session import COOKIE_NAME, new_session

LOGIN_COOKIE = "crm_console_login"
_SSO_TIMEOUT_SECONDS = 5.0


class Login:
    """The login form posts a staff id; the SSO answers a token for that person."""

    def __init__(
        self, shell: Shell, sso_token_url: str, *, roles_claim: str, teams_claim: str
    ) -> None:
        self._shell = shell
        self._sso = sso_token_url
        self._roles_claim = roles_claim
        self._teams_claim = teams_claim

    async def form(self, request: Request, error: str = "", status: int = 200) -> Response:
        """Show the form with a login CSRF token (double submit: cookie and field)."""
        token = secrets.token_urlsafe(24)
        response = self._shell.render(
            request, "login.html", status, login_csrf=token, error=error,
            next=_safe_next(request.query_params.get("next", "")), configured=bool(self._sso),
        )
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict",
                            secure=self._shell.secure, path="/console")
        return response

    async def submit(self, request: Request) -> Response:
        """Obtain the person's token from the SSO and start the session."""
        body = (await request.body())[:MAX_FORM_BYTES]
        fields = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not hmac.compare_digest(expected, fields.get("login_csrf", "")):
            return await self.form(request, "stale form; try again", 403)
        staff = fields.get("staff_id", "").strip()
        if not self._sso:
            return await self.form(request, "no SSO configured (CONSOLE_SSO_TOKEN_URL)", 503)
        try:
            async with httpx.AsyncClient(timeout=_SSO_TIMEOUT_SECONDS) as sso:
                reply = await sso.post(self._sso, json={"staff_id": staff})
        except httpx.HTTPError:
            return await self.form(request, "the SSO did not answer", 503)
        if reply.status_code != 200:
            return await self.form(request, "the SSO does not know this staff id", 401)
        try:
            token = str(reply.json().get("access_token", ""))
            # Read without verifying: the claims only choose menus and the start page here;
            # the gateway verifies the signature on every call the console makes with it.
            claims = jwt.decode(token, options={"verify_signature": False})
        except (ValueError, jwt.PyJWTError):
            return await self.form(request, "the SSO answered something that is not a token", 502)
        person = new_session(
            # The gateway names people "staff/<sub>" (jwks.py); the console filters by that name.
            staff=f"staff/{claims.get('sub', staff)}",
            roles=tuple(str(r) for r in claims.get(self._roles_claim, [])),
            teams=tuple(str(t) for t in claims.get(self._teams_claim, [])),
            token=token,
            expires=float(claims.get("exp", 0)),
        )
        response = then(_safe_next(fields.get("next", "")) or "/console/")
        self._shell.set_session(response, person)
        response.delete_cookie(LOGIN_COOKIE, path="/console")
        return response

    async def logout(self, request: Request) -> Response:
        """End the session (the cookie only; the SSO token simply expires)."""
        person = self._shell.session_of(request)
        body = (await request.body())[:MAX_FORM_BYTES]
        sent = parse_qs(body.decode()).get("csrf", [""])[0]
        response = then("/console/login")
        if person is None or hmac.compare_digest(person.csrf, sent):
            response.delete_cookie(COOKIE_NAME, path="/console")
        return response

    async def home(self, request: Request) -> Response:
        """Send each role to its start page."""
        person = self._shell.session_of(request)
        if person is None:
            return RedirectResponse("/console/login", 303)
        if person.has("risk_officer", "credit_approver"):
            return then("/console/risk/warnings")
        if person.has("team_lead", "ops"):
            return then("/console/manager/kpi")
        return then("/console/clients")


def _safe_next(target: str) -> str:
    """Return `target` only when it is a console path (no open redirect)."""
    ok = target.startswith("/console/") and "//" not in target and "\\" not in target
    return target if ok else ""
