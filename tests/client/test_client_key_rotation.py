"""Key rotation end to end, with the client service as a real process and the operator CLI.

Key persons are written under k1; the service restarts with the ring {k1, k2}, k2 active, and
reads them back (masked for an RM, unmasked for a risk officer, as always) while its
background task re-encrypts them; `crm_admin keys status` shows k1's count reach 0; the
service then restarts with k2 alone and still reads everything. Starting with k2 alone
*before* re-encryption finished is refused with the missing key named, and changes nothing.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from pathlib import Path

import grpc
import pytest
from admin_support import cli
from client_harness import RM_A, a_client
from process_harness import ServiceProcess

from crm.client.v1 import client_pb2, client_service_pb2, client_service_pb2_grpc
from crm_runtime.auth import Role

pytestmark = [pytest.mark.keys, pytest.mark.process]

SERVICE = "crm.client.v1.ClientService"
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
PEOPLE = 6


def _id_number(n: int) -> str:
    """Return a valid resident ID number (GB 11643 check character) for person `n`."""
    body = f"1101051990030{7100 + n:04d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11]


def _ring(**keys: bytes) -> str:
    return ",".join(f"{kid}:{base64.b64encode(k).decode()}" for kid, k in keys.items())


async def _add_person(process: ServiceProcess, identity, client: str, n: int) -> str:
    """Create key person `n` of `client` as its RM; return the person's resource name."""
    rm = identity.metadata(RM_A, Role.RELATIONSHIP_MANAGER)
    person = client_pb2.KeyPerson(
        display_name=f"王建{n}", role=client_pb2.KEY_PERSON_ROLE_LEGAL_REPRESENTATIVE,
        id_number=_id_number(n), mobile_number=f"1381234567{n}",
        income_band=client_pb2.INCOME_BAND_ABOVE_2M)
    async with grpc.aio.insecure_channel(process.address) as channel:
        stub = client_service_pb2_grpc.ClientServiceStub(channel)
        created = await stub.CreateKeyPerson(client_service_pb2.CreateKeyPersonRequest(
            parent=client, key_person=person), metadata=rm)
    return str(created.name)


async def _write_people(process: ServiceProcess, identity) -> tuple[str, list[str], str]:
    """Create a client and its key persons; return the client, person names, a page token."""
    rm = identity.metadata(RM_A, Role.RELATIONSHIP_MANAGER)
    async with grpc.aio.insecure_channel(process.address) as channel:
        stub = client_service_pb2_grpc.ClientServiceStub(channel)
        client = await stub.CreateClient(client_service_pb2.CreateClientRequest(
            client=a_client(), request_id=str(uuid.uuid4())), metadata=rm)
        names = [await _add_person(process, identity, client.name, n) for n in range(PEOPLE)]
        first = await stub.ListKeyPersons(client_service_pb2.ListKeyPersonsRequest(
            parent=client.name, page_size=2), metadata=rm)
        return client.name, names, first.next_page_token


async def _read_people(process: ServiceProcess, identity, client: str, token: str) -> dict:
    """Read every person masked (RM) and unmasked (risk officer); resume the open page."""
    rm = identity.metadata(RM_A, Role.RELATIONSHIP_MANAGER)
    officer = identity.metadata("staff/ro-1", Role.RISK_OFFICER)
    async with grpc.aio.insecure_channel(process.address) as channel:
        stub = client_service_pb2_grpc.ClientServiceStub(channel)
        listed = await stub.ListKeyPersons(
            client_service_pb2.ListKeyPersonsRequest(parent=client, page_size=50), metadata=rm)
        masked = {p.name: (p.id_number, p.mobile_number) for p in listed.key_persons}
        plain = {}
        for name in masked:
            person = await stub.GetKeyPerson(client_service_pb2.GetKeyPersonRequest(
                name=name, unmask=True, access_reason="credit review #42"), metadata=officer)
            plain[name] = (person.display_name, person.id_number, person.mobile_number)
        resumed = await stub.ListKeyPersons(client_service_pb2.ListKeyPersonsRequest(
            parent=client, page_size=2, page_token=token), metadata=rm)
    return {"masked": masked, "plain": plain, "resumed": len(resumed.key_persons)}


def _status(env: dict[str, str]) -> dict:
    done = cli("keys", "status", "client", "--json", env=env)
    assert done.returncode in (0, 3), done.stderr
    return json.loads(done.stdout.splitlines()[0])


async def test_rotation_end_to_end(tmp_path: Path, identity):
    """Write under k1, rotate to k2 online, re-encryption finishes, k1 retired, all readable."""
    k1, k2, p1, p2 = (os.urandom(32) for _ in range(4))
    base = {**identity.env("client"), "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/c.db",
            "PII_INDEX_KEY": base64.b64encode(os.urandom(32)).decode(),
            "REENCRYPT_INTERVAL_SECONDS": "0.2", "REENCRYPT_BATCH_SIZE": "2"}
    before = {**base, "PII_KEYRING": _ring(k1=k1), "PAGE_TOKEN_KEYRING": _ring(p1=p1)}
    rotated = {**base, "PII_KEYRING": _ring(k1=k1, k2=k2), "PII_ACTIVE_KEY_ID": "k2",
               "PAGE_TOKEN_KEYRING": _ring(p1=p1, p2=p2), "PAGE_TOKEN_ACTIVE_KEY_ID": "p2"}
    retired = {**base, "PII_KEYRING": _ring(k2=k2), "PAGE_TOKEN_KEYRING": _ring(p2=p2)}
    log = tmp_path / "client.log"

    process = ServiceProcess("crm_client", before, log)
    process.start()
    try:
        await process.wait_serving(SERVICE)
        client, names, token = await _write_people(process, identity)
        original = await _read_people(process, identity, client, token)
    finally:
        assert process.terminate() == 0
    assert set(original["plain"]) == set(names)
    # Name and ID number are always set, mobile and income band too here: 4 values a person.
    written = _status(rotated)
    print(f"written under k1: {written['columns']}")
    assert written["pending"] == 4 * PEOPLE

    # Retiring k1 now would strand those values: the service refuses to start, naming k1.
    early = ServiceProcess("crm_client", retired, tmp_path / "early.log")
    early.start()
    assert early.proc is not None
    assert await asyncio.to_thread(early.proc.wait, 120) != 0
    refusal = early.log_path.read_text()
    assert "k1" in refusal and "does not hold" in refusal, refusal[-2000:]
    assert _status(rotated)["pending"] == 4 * PEOPLE  # Nothing touched.

    process = ServiceProcess("crm_client", rotated, log)
    process.start()
    try:
        await process.wait_serving(SERVICE)
        # Readable at once, whatever the background task has reached; the old page resumes.
        assert await _read_people(process, identity, client, token) == original
        # A write during re-encryption is sealed with k2 and is not overwritten by the task.
        await _add_person(process, identity, client, PEOPLE)
        for _ in range(300):
            status = _status(rotated)
            if status["pending"] == 0:
                break
            await asyncio.sleep(0.2)
        print(f"after background re-encryption: {status['columns']}")
        assert status["pending"] == 0
        assert status["columns"]["key_person.id_number_enc"] == {"k1": 0, "k2": PEOPLE + 1, "?": 0}
    finally:
        assert process.terminate() == 0
    assert "re-encryption complete" in log.read_text()

    process = ServiceProcess("crm_client", retired, log)
    process.start()
    try:
        await process.wait_serving(SERVICE)
        after = await _read_people(process, identity, client, "")
    finally:
        assert process.terminate() == 0
    added = set(after["plain"]) - set(original["plain"])
    assert len(added) == 1
    assert after["plain"][added.pop()] == ("王建6", _id_number(PEOPLE), f"1381234567{PEOPLE}")
    for name in original["plain"]:
        assert after["plain"][name] == original["plain"][name]
        assert after["masked"][name] == original["masked"][name]
    final = _status(retired)
    print(f"ring {{k2}} only: {final['columns']}, unreadable {final['unreadable']}")
    assert final["unreadable"] == 0
