"""The console's own pieces without a platform: sealed sessions, redirects, charts, the SSO."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

import httpx
import jwt

from crm_console.charts import bars
from crm_console.login import _safe_next
from crm_console.session import SessionCodec, new_session
from crm_demo.sso import AUDIENCE, ISSUER, DemoSso
from crm_demo.sso_endpoint import TokenEndpoint, demo_directory


def test_a_sealed_session_opens_only_with_its_key_and_unaltered() -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    codec = SessionCodec(key)
    person = new_session("staff/rm-001", ("relationship_manager",), ("teams/a",), "tok.en.x",
                         time.time() + 300)
    sealed = codec.seal(person)
    assert "tok.en.x" not in sealed and "rm-001" not in sealed
    assert codec.open(sealed) == person
    assert SessionCodec(key).open(sealed) == person  # Another replica with the same key.
    assert SessionCodec().open(sealed) is None  # Another key.
    flipped = sealed[:20] + ("A" if sealed[20] != "A" else "B") + sealed[21:]
    assert codec.open(flipped) is None
    assert codec.open("not a cookie") is None


def test_an_expired_session_is_no_session() -> None:
    person = new_session("staff/rm-001", (), (), "t", time.time() - 1)
    assert person.expired


def test_only_console_paths_are_redirect_targets() -> None:
    assert _safe_next("/console/clients/7") == "/console/clients/7"
    for hostile in ("https://evil.example/", "//evil.example/console/", "/console//evil",
                    "/console/\\evil", "/v1/clients"):
        assert _safe_next(hostile) == ""


def test_chart_labels_are_escaped() -> None:
    svg = str(bars([("<script>alert(1)</script>", 3.0), ("ok", 1.0)], limit=2.0))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.count("<rect") == 2 and 'class="bar over"' in svg and "<line" in svg


def test_demo_token_endpoint_issues_tokens_for_the_directory_only(tmp_path: Path) -> None:
    sso = DemoSso(tmp_path)
    directory = demo_directory([("staff/rm-001", "teams/bj-1"), ("staff/rm-002", "teams/bj-1")])
    assert directory["rm-001"].teams == ("teams/bj-1",)
    assert directory["lead-bj-1"].roles == ("team_lead", "ops")
    endpoint = TokenEndpoint(sso, directory).start()
    try:
        token = httpx.post(endpoint.url, json={"staff_id": "rm-001"}, timeout=10).json()[
            "access_token"]
        key = jwt.PyJWKSet.from_dict(json.loads(sso.jwks_file.read_text())).keys[0].key
        claims = jwt.decode(token, key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER)
        assert claims["sub"] == "rm-001" and claims["roles"] == ["relationship_manager"]
        unknown = httpx.post(endpoint.url, json={"staff_id": "mallory"}, timeout=10)
        assert unknown.status_code == 404 and "access_token" not in unknown.text
        assert sso.gateway_env().get("CONSOLE_SSO_TOKEN_URL", "") == ""
        sso.token_url = endpoint.url
        assert sso.gateway_env()["CONSOLE_SSO_TOKEN_URL"] == endpoint.url
    finally:
        endpoint.stop()
