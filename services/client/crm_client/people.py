"""Key persons: validation of a person's identity facts and the encrypted row built from them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from crm.client.v1 import client_pb2
from crm_client.domain.person_id import birth_date_from_id, gender_from_id
from crm_client.mapping import EDUCATION, GENDER, INCOME, ROLE
from crm_client.models import KeyPersonRow
from crm_client.validation import Violations, check_person, to_date
from crm_runtime.crypto import FieldCipher
from crm_runtime.pii import mask_id_number, mask_mobile, mask_name

MAX_PERSONS_PER_CLIENT_CREATE = 20


def check_people(
    v: Violations, people: list[client_pb2.KeyPerson], *, today: date, prefix: str
) -> None:
    """Validate persons, including that birth date and gender agree with the ID number."""
    if len(people) > MAX_PERSONS_PER_CLIENT_CREATE:
        v.add(prefix, f"at most {MAX_PERSONS_PER_CLIENT_CREATE} per call")
        return
    for index, person in enumerate(people):
        path = f"{prefix}[{index}]" if prefix.endswith("s") else prefix
        before = len(v.items)
        check_person(v, person, today=today, prefix=path)
        if len(v.items) == before and person.id_number:
            birth = to_date(person.birth_date)
            if birth is not None and birth != birth_date_from_id(person.id_number):
                v.add(f"{path}.birth_date", "does not match the ID number")
            gender = GENDER.get(person.gender, "")
            if gender and gender != gender_from_id(person.id_number):
                v.add(f"{path}.gender", "does not match the ID number")


def person_values(
    person: client_pb2.KeyPerson, *, client_seq: int, cipher: FieldCipher, now: datetime
) -> dict[str, Any]:
    """Return the columns of a validated person: personal fields encrypted, masks precomputed.

    The bulk import inserts these as they are; the single-item RPCs wrap them in a row.
    """
    birth = to_date(person.birth_date)
    gender = GENDER.get(person.gender, "")
    if person.id_number:
        # The ID number fixes birth date and gender (check_people verified they agree).
        birth, gender = birth_date_from_id(person.id_number), gender_from_id(person.id_number)
    values: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "client_seq": client_seq,
        "role": ROLE[person.role],
        "name_enc": cipher.encrypt(person.display_name, context="key_person.name"),
        "name_masked": mask_name(person.display_name),
        "gender": gender,
        "birth_date": birth,
        "education": EDUCATION.get(person.education, ""),
        "occupation": person.occupation,
        "create_time": now,
        "income_band_enc": None,
        "id_number_enc": None,
        "id_number_index": "",
        "id_number_masked": "",
        "mobile_enc": None,
        "mobile_masked": "",
    }
    if person.income_band:
        values["income_band_enc"] = cipher.encrypt(
            INCOME[person.income_band], context="key_person.income_band"
        )
    if person.id_number:
        values["id_number_enc"] = cipher.encrypt(person.id_number, context="key_person.id_number")
        values["id_number_index"] = cipher.blind_index(person.id_number, context="id_number")
        values["id_number_masked"] = mask_id_number(person.id_number)
    if person.mobile_number:
        values["mobile_enc"] = cipher.encrypt(person.mobile_number, context="key_person.mobile")
        values["mobile_masked"] = mask_mobile(person.mobile_number)
    return values


def person_row(
    person: client_pb2.KeyPerson, *, client_seq: int, cipher: FieldCipher, now: datetime
) -> KeyPersonRow:
    """Return the row for a validated person: personal fields encrypted, masks precomputed."""
    return KeyPersonRow(**person_values(person, client_seq=client_seq, cipher=cipher, now=now))
