"""The demo SSO's token endpoint: the console's login page asks it for a person's token.

POST /token with {"staff_id": "rm-001"} answers {"access_token": "<RS256 JWT>"} for staff in
the directory and 404 for anyone else. A real bank's SSO authenticates the person first
(password, certificate, OTP); this stand-in trusts the staff id, so it binds to 127.0.0.1 only.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from crm_demo.sso import DemoSso

MAX_BODY = 4096


@dataclass(frozen=True)
class Staff:
    """A person's roles and teams as the SSO would assert them."""

    roles: tuple[str, ...]
    teams: tuple[str, ...] = ()


# Staff who are not RMs of the synthetic book: two risk officers (four eyes) and a manager.
DEMO_STAFF = {
    "risk-01": Staff(("risk_officer", "credit_approver")),
    "risk-02": Staff(("risk_officer", "credit_approver")),
    "ops-01": Staff(("ops",)),
    "auditor-01": Staff(("auditor",)),
}


def demo_directory(assignments: Iterable[tuple[str, str]]) -> dict[str, Staff]:
    """Return the demo's staff: every (relationship manager, team) of the book, and DEMO_STAFF.

    An RM's id is the part after "staff/" (the gateway adds the prefix back); each team's
    first RM is also its team lead ("lead-<team>"), who sees the team's scorecards.
    """
    directory = dict(DEMO_STAFF)
    for manager, team in assignments:
        directory.setdefault(manager.removeprefix("staff/"), Staff(("relationship_manager",),
                                                                     (team,)))
        lead = f"lead-{team.removeprefix('teams/')}"
        directory.setdefault(lead, Staff(("team_lead", "ops"), (team,)))
    return directory


class TokenEndpoint:
    """A small HTTP server on 127.0.0.1 issuing DemoSso tokens, in a background thread."""

    def __init__(self, sso: DemoSso, directory: Mapping[str, Staff]) -> None:
        self._sso = sso
        self._directory = dict(directory)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Return the token URL (CONSOLE_SSO_TOKEN_URL of the gateway)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def add(self, staff_id: str, person: Staff) -> None:
        """Add or replace someone in the directory."""
        self._directory[staff_id] = person

    def start(self) -> TokenEndpoint:
        """Start serving."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()

    def _token(self, staff_id: str) -> str | None:
        person = self._directory.get(staff_id)
        if person is None:
            return None
        return self._sso.token(staff_id, person.roles, person.teams)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if self.path != "/token" or length > MAX_BODY:
                    self._answer(HTTPStatus.NOT_FOUND, {"error": "not_found"})
                    return
                try:
                    staff_id = str(json.loads(self.rfile.read(length) or b"{}")["staff_id"])
                except (ValueError, KeyError, TypeError):
                    self._answer(HTTPStatus.BAD_REQUEST, {"error": "invalid_request"})
                    return
                token = endpoint._token(staff_id)
                if token is None:
                    self._answer(HTTPStatus.NOT_FOUND, {"error": "unknown_staff"})
                    return
                self._answer(HTTPStatus.OK, {"access_token": token, "token_type": "Bearer"})

            def _answer(self, status: HTTPStatus, body: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the demo prints its own progress."""

        return Handler
