"""Gateway settings: development fallbacks end where the platform begins."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from crm_gateway.config import GatewaySettings


def _settings(tmp_path: Path, **fields: object) -> GatewaySettings:
    keys = tmp_path / "api_keys.json"
    keys.write_text('{"keys": []}')
    signing = tmp_path / "gateway.pem"
    signing.write_text("unused here")
    return GatewaySettings(  # type: ignore[arg-type]
        api_keys_file=keys, identity_signing_key_file=signing, **fields
    )


@pytest.mark.parametrize("environment", ["staging", "prod", "PRODUCTION"])
def test_platform_refuses_to_start_without_an_audit_chain_key(tmp_path, environment):
    with pytest.raises(ValidationError, match="AUDIT_CHAIN_KEY is required"):
        _settings(tmp_path, deployment_environment=environment)


def test_platform_starts_with_a_key(tmp_path):
    key = base64.b64encode(os.urandom(32)).decode()
    settings = _settings(tmp_path, deployment_environment="prod", audit_chain_key=key)
    assert settings.is_platform


@pytest.mark.parametrize("environment", ["local", "dev"])
def test_a_laptop_or_dev_cluster_may_use_the_public_fallback(tmp_path, environment):
    assert not _settings(tmp_path, deployment_environment=environment).is_platform
