"""TLS on a process's gRPC port, from its settings (GRPC_TLS_*).

Any service can serve TLS this way; the gateway does where callers reach it from outside the
cluster (bank systems, client apps). Plaintext stays the default for one machine and for a
mesh that terminates mTLS itself.
"""

from __future__ import annotations

import grpc

from crm_runtime.config import BaseServiceSettings


def server_credentials(settings: BaseServiceSettings) -> grpc.ServerCredentials | None:
    """Return the TLS credentials the settings ask for, or None for plaintext.

    Raises ValueError for half a configuration (a certificate without its key, a client CA
    without a server certificate, client authentication without a CA), so a process never
    starts in plaintext because one file was forgotten.
    """
    cert, key = settings.grpc_tls_cert_file, settings.grpc_tls_key_file
    client_ca = settings.grpc_tls_client_ca_file
    require = settings.grpc_tls_client_auth == "require"
    if cert is None and key is None:
        if client_ca is not None or require:
            raise ValueError(
                "GRPC_TLS_CLIENT_CA_FILE and GRPC_TLS_CLIENT_AUTH need GRPC_TLS_CERT_FILE"
                " and GRPC_TLS_KEY_FILE"
            )
        return None
    if cert is None or key is None:
        raise ValueError("GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE go together")
    if require and client_ca is None:
        raise ValueError("GRPC_TLS_CLIENT_AUTH=require needs GRPC_TLS_CLIENT_CA_FILE")
    return grpc.ssl_server_credentials(
        [(key.read_bytes(), cert.read_bytes())],
        root_certificates=client_ca.read_bytes() if client_ca is not None and require else None,
        require_client_auth=require,
    )


def bind(server: grpc.aio.Server, settings: BaseServiceSettings) -> int:
    """Bind the gRPC port, with TLS when configured; return the bound port."""
    address = f"{settings.grpc_host}:{settings.grpc_port}"
    credentials = server_credentials(settings)
    if credentials is None:
        port: int = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, credentials)
    return port
