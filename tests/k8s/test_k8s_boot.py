"""Every container of every overlay boots from exactly the rendered environment.

Each overlay is rendered with the real `kubectl kustomize`, and every init container and
container of every Deployment is started as a local process (see k8s_boot.py for what the
pod world supplies and nothing more). Init containers must exit 0, containers must report
SERVING on their probes' gRPC health services, the gateway's HTTP face must answer.

All three overlays run in the default suite (15 to 25 s each, about 65 s for the file on
2 cores). A broken copy of an overlay (one Secret key removed, or the gateway's HTTP face
left on loopback) must fail, naming the setting.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx
import pytest
from k8s_boot import BootFailure, Container, boot
from k8s_platform import K8S_ROOT, WORKLOADS
from kustomize_real import render

from crm_runtime.testing import postgres_available

pytestmark = [pytest.mark.process, pytest.mark.postgres]
# The dev overlay's API key (k8s/overlays/dev/gateway-auth, docs/KUBERNETES.md "Dev keys").
DEV_API_KEY = "crmk_dev-ops_DEV-ONLY-not-a-secret-use-only-on-a-dev-cluster0"


@pytest.fixture(autouse=True)
async def _needs_postgres() -> None:
    if not await postgres_available():
        pytest.skip("no PostgreSQL server (CRM_TEST_POSTGRES_URL or 127.0.0.1:5432)")


def _get(port: int, path: str, headers: dict[str, str]) -> tuple[int, str]:
    reply = httpx.get(f"http://127.0.0.1:{port}{path}", headers=headers, timeout=10)
    return reply.status_code, reply.text


def _call_through_gateway(servers: dict[str, Container]) -> None:
    """The dev API key lists clients over HTTP: gateway -> client with a minted identity."""
    port = servers["gateway"].http_port
    assert port is not None
    status, body = _get(port, "/v1/clients", {"x-api-key": DEV_API_KEY})
    assert status == 200, body
    status, body = _get(port, "/v1/clients", {})
    assert status == 401, body


def _boot_overlay(overlay: str, tmp_path: Path) -> None:
    check = _call_through_gateway if overlay == "dev" else None
    report = boot(overlay, render(K8S_ROOT / "overlays" / overlay), tmp_path,
                  while_serving=check)
    print(report.summary())
    assert sorted(report.deployments) == sorted(w.name for w in WORKLOADS)
    assert len(report.init_exited_zero) == len(WORKLOADS)
    assert len(report.serving) == len(WORKLOADS)


def test_dev_boots(tmp_path: Path) -> None:
    """dev: 5 init containers exit 0, 5 containers SERVING, the dev API key gets through."""
    _boot_overlay("dev", tmp_path)


@pytest.mark.parametrize("overlay", ["staging", "prod"])
def test_overlay_boots(overlay: str, tmp_path: Path) -> None:
    """staging and prod, with the secret store's keys made up per listed key."""
    _boot_overlay(overlay, tmp_path)


def _broken_copy(tmp_path: Path, relative: str, pattern: str) -> Path:
    """Copy k8s/ and delete the lines matching `pattern` from one file; return the copy."""
    root = tmp_path / "k8s"
    shutil.copytree(K8S_ROOT, root)
    path = root / relative
    text = path.read_text()
    broken = re.sub(pattern, "", text, flags=re.MULTILINE)
    assert broken != text, f"{pattern!r} matched nothing in {relative}"
    path.write_text(broken)
    return root


class TestBrokenOverlay:
    """Removing one key from a Secret makes the boot fail with the setting's name."""

    def test_dev_without_answer_token_secret(self, tmp_path: Path) -> None:
        """feedback's migrate exits: its settings refuse a missing ANSWER_TOKEN_SECRET."""
        root = _broken_copy(tmp_path, "overlays/dev/kustomization.yaml",
                            r"^ *- ANSWER_TOKEN_SECRET=.*\n")
        manifests = render(root / "overlays" / "dev")
        with pytest.raises(BootFailure) as failure:
            boot("dev", manifests, tmp_path / "pods", only=("feedback",), timeout=60)
        message = str(failure.value)
        print(message.splitlines()[0])
        assert "Deployment feedback init container migrate exited" in message
        assert "ANSWER_TOKEN_SECRET is required" in message

    def test_dev_without_client_keyring(self, tmp_path: Path) -> None:
        """client's migrate exits: personal data cannot be sealed without PII_KEYRING."""
        root = _broken_copy(tmp_path, "overlays/dev/kustomization.yaml",
                            r"^ *- PII_KEYRING=dev1:REVWLU9OTFkgY2xpZW50.*\n")
        manifests = render(root / "overlays" / "dev")
        with pytest.raises(BootFailure) as failure:
            boot("dev", manifests, tmp_path / "pods", only=("client",), timeout=60)
        message = str(failure.value)
        print(message.splitlines()[0])
        assert "Deployment client init container migrate exited" in message
        # The active key id is still there, naming a key no ring holds.
        assert "active key id 'dev1' given without PII_KEYRING" in message

    def test_staging_without_audit_chain_key(self, tmp_path: Path) -> None:
        """The gateway would start on a public fallback: the boot test refuses it by name."""
        root = _broken_copy(
            tmp_path, "components/external-secrets/gateway.yaml",
            r"^    - secretKey: AUDIT_CHAIN_KEY\n.*\n.*\n.*property: AUDIT_CHAIN_KEY\n",
        )
        manifests = render(root / "overlays" / "staging")
        with pytest.raises(BootFailure, match="AUDIT_CHAIN_KEY is not set") as failure:
            boot("staging", manifests, tmp_path / "pods", only=("gateway",), timeout=60)
        print(str(failure.value).splitlines()[0])

    def test_gateway_http_on_loopback(self, tmp_path: Path) -> None:
        """An HTTP face bound to 127.0.0.1 is unreachable in a pod: refused by name."""
        root = _broken_copy(tmp_path, "base/gateway/kustomization.yaml",
                            r"^ *- HTTP_HOST=0\.0\.0\.0\n")
        manifests = render(root / "overlays" / "dev")
        with pytest.raises(BootFailure, match="HTTP_HOST is 'unset"):
            boot("dev", manifests, tmp_path / "pods", only=("gateway",), timeout=60)
