"""The operator CLI, run as `python -m crm_admin` in a subprocess against real stores.

Each command is run the way an operator runs it: a fresh process, settings from the
environment, a real SQLite (and for `keys`, PostgreSQL) store, and its exit status checked.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from datetime import UTC, datetime

import pytest
from admin_support import cli
from sqlalchemy import select, update

from crm_gateway.apikeys import ApiKeyStore
from crm_gateway.audit import AuditEntry, AuditLog
from crm_gateway.models import AuditRow
from crm_risk.models import MonitoringProfileRow
from crm_risk.monitoring.store.lookups import RELATED_CONTEXT
from crm_runtime.auth import Role
from crm_runtime.crypto import FieldCipher, ciphertext_key_id
from crm_runtime.db import Database
from crm_runtime.errors import Unauthenticated
from crm_runtime.keyring import Keyring, new_key

pytestmark = pytest.mark.keys

class TestApiKeys:
    def test_create_list_revoke_as_the_gateway_sees_them(self, tmp_path):
        """A created key signs in at the gateway's key store; once revoked it does not."""
        file = tmp_path / "api-keys.json"
        env = {"API_KEYS_FILE": str(file), "API_KEY_PEPPER": "pepper-for-test"}
        made = cli("apikey", "create", "core-banking", "--system", "core-banking",
                   "--role", "system", env=env)
        assert made.returncode == 0, made.stderr
        key = made.stdout.strip()
        assert key.startswith("crmk_core-banking_")
        assert key not in file.read_text()  # Only the hash is kept.
        store = ApiKeyStore(file, pepper=b"pepper-for-test")
        principal = store.verify(key)
        assert (principal.subject, principal.roles) == ("systems/core-banking", {Role.SYSTEM})

        listed = cli("apikey", "list", "--json", env=env)
        assert json.loads(listed.stdout) == [{"id": "core-banking", "system": "core-banking",
                                              "roles": ["system"], "revoked": False}]
        again = cli("apikey", "create", "core-banking", "--system", "x", "--role", "ops",
                    env=env)
        assert again.returncode == 2
        assert "exists" in again.stderr

        revoked = cli("apikey", "revoke", "core-banking", env=env)
        assert revoked.returncode == 0, revoked.stderr
        with pytest.raises(Unauthenticated):
            ApiKeyStore(file, pepper=b"pepper-for-test").verify(key)
        assert "revoked" in cli("apikey", "list", env=env).stdout
        assert cli("apikey", "revoke", "nobody", env=env).returncode == 2


class TestAuditVerify:
    async def test_intact_chain_passes_and_an_edit_fails(self, tmp_path):
        """Exit 0 over the gateway's own chain; exit 1 naming the record after one edit."""
        url = f"sqlite+aiosqlite:///{tmp_path}/gateway.db"
        key = os.urandom(32)
        env = {"DATABASE_URL": url, "AUDIT_CHAIN_KEY": base64.b64encode(key).decode()}
        assert cli("migrate", "gateway", env=env).returncode == 0
        database = Database(url)
        log = AuditLog(database, instance="gw-test", key=key)
        for index in range(30):
            log.record(AuditEntry(principal="staff/x", method=f"/m/{index}", outcome="OK",
                                  transport="grpc", request_id="r", origin="o",
                                  call_time=1.0e9 + index, duration_micros=5))
        assert await log.flush() == 30
        intact = cli("audit", "verify", "--json", env=env)
        assert intact.returncode == 0, intact.stderr
        assert json.loads(intact.stdout)["records"] == 30

        wrong_key = cli("audit", "verify", env={**env, "AUDIT_CHAIN_KEY": new_key()})
        assert wrong_key.returncode == 1
        async with database.write() as session:
            await session.execute(
                update(AuditRow).where(AuditRow.seq == 12).values(principal="staff/y")
            )
        await database.dispose()
        broken = cli("audit", "verify", env=env)
        assert broken.returncode == 1
        assert "at record 12" in broken.stdout
        assert "audit chain broken" in broken.stdout

    def test_platform_without_chain_key_refuses(self, tmp_path):
        """In prod the public fallback key proves nothing: the command says so, exit 2."""
        env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/g.db",
               "DEPLOYMENT_ENVIRONMENT": "prod"}
        refused = cli("audit", "verify", env=env)
        assert refused.returncode == 2
        assert "AUDIT_CHAIN_KEY is required" in refused.stderr


class TestMigrate:
    def test_all_brings_every_store_to_head(self, tmp_path):
        """`migrate all` migrates the four services and the gateway, each its own store."""
        env = {"PII_ENCRYPTION_KEY": new_key(), "PII_INDEX_KEY": new_key(),
               "ANSWER_TOKEN_SECRET": new_key()}
        done = cli("migrate", "all", env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        for name in ("client", "risk", "notify", "feedback", "gateway"):
            assert f"{name}: migrated" in done.stdout
            with sqlite3.connect(tmp_path / "var" / f"{name}.db") as conn:
                (version,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            assert version
        assert cli("migrate", "all", env=env, cwd=tmp_path).returncode == 0  # Idempotent.


def _ring(**keys: bytes) -> str:
    return ",".join(f"{kid}:{base64.b64encode(k).decode()}" for kid, k in keys.items())


class TestKeys:
    def test_generate_prints_a_ring_entry(self):
        """`keys generate k7` prints `k7:<base64 of 32 bytes>`, new each time."""
        first, second = cli("keys", "generate", "k7"), cli("keys", "generate", "k7")
        kid, _, value = first.stdout.strip().partition(":")
        assert (kid, len(base64.b64decode(value))) == ("k7", 32)
        assert first.stdout != second.stdout
        assert cli("keys", "generate", "bad id!").returncode == 2

    async def test_status_rotate_and_retire(self, store_url):
        """Counts per key id; rotate moves all onto the active key; a retired key is named."""
        k1, k2, index = os.urandom(32), os.urandom(32), base64.b64encode(os.urandom(32)).decode()
        base = {"DATABASE_URL": store_url, "PII_INDEX_KEY": index}
        assert cli("migrate", "risk", env={**base, "PII_KEYRING": _ring(k1=k1)}).returncode == 0
        cipher = FieldCipher(Keyring({"k1": k1}, "k1"), base64.b64decode(index))
        database = Database(store_url)
        async with database.write() as session:
            for n in range(12):
                parties = json.dumps([{"name": f"王{n}", "role": "controller"}])
                session.add(MonitoringProfileRow(
                    client_id=f"clients/c{n}", own_accounts_json="[]",
                    related_enc=cipher.encrypt(parties, context=RELATED_CONTEXT),
                    related_masked_json="[]", update_time=datetime.now(UTC)))

        column = "risk_monitoring_profile.related_enc"
        rotated = {**base, "PII_KEYRING": _ring(k1=k1, k2=k2), "PII_ACTIVE_KEY_ID": "k2"}
        status = cli("keys", "status", "risk", "--json", env=rotated)
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["columns"][column] == {"k1": 12, "k2": 0, "?": 0}

        retired_early = cli("keys", "status", "risk", env={**base, "PII_KEYRING": _ring(k2=k2)})
        assert retired_early.returncode == 3
        assert "k1" in retired_early.stdout and "does not hold" in retired_early.stdout

        moved = cli("keys", "rotate", "risk", "--json", "--batch-size", "5", env=rotated)
        assert moved.returncode == 0, moved.stderr
        report = json.loads(moved.stdout)
        assert (report["reencrypted"], report["pending"]) == (12, 0)
        assert report["columns"][column] == {"k1": 0, "k2": 12, "?": 0}

        after = cli("keys", "status", "risk", env={**base, "PII_KEYRING": _ring(k2=k2)})
        assert after.returncode == 0, after.stdout
        async with database.read() as session:
            blobs = (await session.execute(select(MonitoringProfileRow.related_enc))).scalars()
            assert {ciphertext_key_id(b) for b in blobs} == {"k2"}
        await database.dispose()
