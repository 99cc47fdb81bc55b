"""TLS settings of the shared server bootstrap (crm_runtime.tls) and the gateway's HTTP face:
half a configuration stops the process instead of serving plaintext, and a client-auth mode
gRPC cannot honour is refused."""

from __future__ import annotations

import ssl

import pytest
from gateway_harness import Pki
from pydantic import ValidationError

from crm_gateway.config import GatewaySettings
from crm_gateway.events import format_event_id, parse_event_id
from crm_runtime.config import BaseServiceSettings
from crm_runtime.errors import InvalidArgument
from crm_runtime.tls import server_credentials


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki")).issue()


def test_plaintext_without_settings_and_tls_with_them(pki: Pki) -> None:
    assert server_credentials(BaseServiceSettings()) is None
    settings = BaseServiceSettings(
        grpc_tls_cert_file=pki.path("server.crt"), grpc_tls_key_file=pki.path("server.key")
    )
    assert server_credentials(settings) is not None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"grpc_tls_cert_file": "server.crt"}, "go together"),
        ({"grpc_tls_client_ca_file": "ca.crt"}, "need GRPC_TLS_CERT_FILE"),
        ({"grpc_tls_client_auth": "require"}, "need GRPC_TLS_CERT_FILE"),
        (
            {
                "grpc_tls_cert_file": "server.crt",
                "grpc_tls_key_file": "server.key",
                "grpc_tls_client_auth": "require",
            },
            "needs GRPC_TLS_CLIENT_CA_FILE",
        ),
    ],
)
def test_half_a_configuration_is_refused(pki: Pki, fields: dict[str, str], message: str) -> None:
    settings = BaseServiceSettings(**{k: pki.path(v) if k != "grpc_tls_client_auth" else v
                                      for k, v in fields.items()})
    with pytest.raises(ValueError, match=message):
        server_credentials(settings)


def test_optional_client_auth_is_refused() -> None:
    """gRPC either requires and verifies a client certificate or never asks for one."""
    with pytest.raises(ValidationError, match="none or require"):
        BaseServiceSettings(grpc_tls_client_auth="optional")


def test_http_tls_takes_the_grpc_certificate_and_client_ca(pki: Pki, identity) -> None:
    base = {"identity_signing_key_file": identity.private_files["gateway"],
            "api_keys_file": pki.path("ca.crt")}
    with pytest.raises(ValidationError, match="HTTP_TLS needs"):
        GatewaySettings(**base, http_tls=True)
    settings = GatewaySettings(
        **base,
        http_tls=True,
        grpc_tls_cert_file=pki.path("server.crt"),
        grpc_tls_key_file=pki.path("server.key"),
        grpc_tls_client_ca_file=pki.path("ca.crt"),
        grpc_tls_client_auth="require",
    )
    options = settings.http_tls_options()
    assert options["ssl_certfile"] == str(pki.path("server.crt"))
    assert options["ssl_cert_reqs"] == ssl.CERT_REQUIRED
    assert GatewaySettings(**base).http_tls_options() == {}


def test_event_ids_round_trip_and_junk_is_refused() -> None:
    positions = {"staff/rm-a": 7, "teams/t-1": 0}
    assert parse_event_id(format_event_id(positions)) == positions
    assert parse_event_id("") == {}
    for junk in ("staff/rm-a", "=3", "staff/rm-a=-1", "x" * 9000):
        with pytest.raises(InvalidArgument):
            parse_event_id(junk)
