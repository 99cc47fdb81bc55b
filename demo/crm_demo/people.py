"""Generate the natural persons around a client as CreateKeyPersonRequest messages.

Every legal representative gets a full identity: a valid 18-digit ID number built by
``make_person_id`` from a real origin code and a birth date that gives an age of 25-75 on
the as-of date, with the sequence parity matching the gender. Day-to-day contacts carry
only a name, gender, job and mobile: the bank needs no more from them (PIPL 最小必要).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from crm.client.v1 import client_pb2, client_service_pb2
from crm_client.domain.person_id import make_person_id
from crm_demo.financials import date_message, weighted_choice
from crm_demo.names import (
    FAMILY_NAMES,
    FEMALE_GIVEN,
    MALE_GIVEN,
    MOBILE_PREFIXES,
    ORIGIN_AREAS,
    AgeBands,
)

MALE: Final = client_pb2.GENDER_MALE
FEMALE: Final = client_pb2.GENDER_FEMALE

_EDUCATION_LEVELS: Final = (
    client_pb2.EDUCATION_SECONDARY,
    client_pb2.EDUCATION_COLLEGE,
    client_pb2.EDUCATION_BACHELOR,
    client_pb2.EDUCATION_MASTER,
    client_pb2.EDUCATION_DOCTORATE,
)
# Weights over the levels above: younger generations went to university far more often.
_EDUCATION_BY_AGE: Final[tuple[tuple[int, tuple[float, ...]], ...]] = (
    (40, (5, 20, 45, 25, 5)),
    (60, (15, 30, 35, 17, 3)),
    (200, (35, 30, 25, 8, 2)),
)
_INCOME_BANDS: Final = (
    client_pb2.INCOME_BAND_BELOW_500K,
    client_pb2.INCOME_BAND_500K_2M,
    client_pb2.INCOME_BAND_ABOVE_2M,
)
_SAME_PROVINCE_ORIGIN: Final = 0.6  # most owners were born in the province they work in


@dataclass(frozen=True)
class Person:
    """A natural person; identity fields are empty for people the bank need not identify."""

    name: str
    gender: client_pb2.Gender
    birth: date | None
    id_number: str
    mobile: str
    education: client_pb2.Education
    income_band: client_pb2.IncomeBand
    occupation: str


def years_before(day: date, years: int) -> date:
    """Return the same calendar day ``years`` earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def request_id(rng: random.Random) -> str:
    """Return a deterministic version-4 UUID for a request's idempotency key."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class PersonFactory:
    """Draw people with unique ID numbers and mobiles, ages measured on ``as_of``."""

    def __init__(self, rng: random.Random, as_of: date) -> None:
        self._rng = rng
        self._as_of = as_of
        self._ids: set[str] = set()
        self._mobiles: set[str] = set()

    def age(self, bands: AgeBands) -> int:
        """Return an age drawn from weighted (low, high) bands, both ends included."""
        low, high = weighted_choice(self._rng, bands)
        return self._rng.randint(low, high)

    def person(
        self,
        *,
        province: str,
        age: int,
        male_share: float,
        income_weights: tuple[float, float, float],
        occupation: str,
        gender: client_pb2.Gender | None = None,
    ) -> Person:
        """Return a new, fully identified person of ``age`` whose origin favours ``province``."""
        rng = self._rng
        if gender is None:
            gender = MALE if rng.random() < male_share else FEMALE
        birth = self._birth_date(age)
        id_number = self._unique_id(self._origin(province), birth, gender)
        return Person(
            name=self._name(gender),
            gender=gender,
            birth=birth,
            id_number=id_number,
            mobile=self._unique_mobile(),
            education=self._education(age),
            income_band=rng.choices(_INCOME_BANDS, weights=income_weights)[0],
            occupation=occupation,
        )

    def contact(self, *, occupation: str) -> Person:
        """Return a contact person: name, gender, mobile and job only."""
        gender = MALE if self._rng.random() < 0.5 else FEMALE
        return Person(
            name=self._name(gender),
            gender=gender,
            birth=None,
            id_number="",
            mobile=self._unique_mobile(),
            education=client_pb2.EDUCATION_UNSPECIFIED,
            income_band=client_pb2.INCOME_BAND_UNSPECIFIED,
            occupation=occupation,
        )

    def spouse_of(self, partner: Person, *, occupation: str) -> Person:
        """Return a spouse of ``partner``: the other gender, within five years of age."""
        if partner.birth is None:
            msg = "a spouse is drawn only for identified people"
            raise ValueError(msg)
        partner_age = self.completed_years(partner.birth)
        age = min(75, max(25, partner_age + self._rng.randint(-5, 3)))
        province = partner.id_number[:2] if partner.id_number else ""
        gender = FEMALE if partner.gender == MALE else MALE
        return self.person(
            province=province,
            age=age,
            male_share=0.5,
            income_weights=(50, 40, 10),
            occupation=occupation,
            gender=gender,
        )

    def completed_years(self, birth: date) -> int:
        """Return the age in whole years on the as-of date."""
        before_birthday = (self._as_of.month, self._as_of.day) < (birth.month, birth.day)
        return self._as_of.year - birth.year - int(before_birthday)

    def _birth_date(self, age: int) -> date:
        """Return a birth date on which a person is exactly ``age`` on the as-of date."""
        latest = years_before(self._as_of, age)
        earliest = years_before(self._as_of, age + 1) + timedelta(days=1)
        birth = earliest + timedelta(days=self._rng.randint(0, (latest - earliest).days))
        # 29 February birthdays near the as-of date can be off by one; keep the age exact.
        return birth if self.completed_years(birth) == age else latest

    def _origin(self, province: str) -> str:
        """Return an origin division code, usually in ``province`` when one is listed."""
        local = [code for code in ORIGIN_AREAS if code.startswith(province)] if province else []
        if local and self._rng.random() < _SAME_PROVINCE_ORIGIN:
            return self._rng.choice(local)
        return self._rng.choice(ORIGIN_AREAS)

    def _unique_id(self, area: str, birth: date, gender: client_pb2.Gender) -> str:
        """Return an unused ID number; the sequence's parity encodes the gender."""
        parity = 1 if gender == MALE else 0
        while True:
            number = make_person_id(area, birth, self._rng.randrange(500) * 2 + parity)
            if number not in self._ids:
                self._ids.add(number)
                return number

    def _unique_mobile(self) -> str:
        """Return an unused mainland mobile number."""
        while True:
            prefix = self._rng.choice(MOBILE_PREFIXES)
            number = f"1{prefix}{self._rng.randrange(10**8):08d}"
            if number not in self._mobiles:
                self._mobiles.add(number)
                return number

    def _name(self, gender: client_pb2.Gender) -> str:
        """Return a family name and a one- or two-character given name fitting the gender."""
        pool = MALE_GIVEN if gender == MALE else FEMALE_GIVEN
        given_length = 1 if self._rng.random() < 0.3 else 2
        given = "".join(self._rng.choice(pool) for _ in range(given_length))
        return weighted_choice(self._rng, FAMILY_NAMES) + given

    def _education(self, age: int) -> client_pb2.Education:
        """Return an education level drawn from the weights of the person's generation."""
        weights = next(w for upper, w in _EDUCATION_BY_AGE if age < upper)
        return self._rng.choices(_EDUCATION_LEVELS, weights=weights)[0]


def key_person_request(
    rng: random.Random, person: Person, role: client_pb2.KeyPersonRole
) -> client_service_pb2.CreateKeyPersonRequest:
    """Return a CreateKeyPersonRequest for ``person`` in ``role``; the parent is left empty."""
    message = client_pb2.KeyPerson(
        display_name=person.name,
        role=role,
        gender=person.gender,
        occupation=person.occupation,
        mobile_number=person.mobile,
    )
    if person.id_number and person.birth is not None:
        message.id_number = person.id_number
        message.birth_date.CopyFrom(date_message(person.birth))
        message.education = person.education
        message.income_band = person.income_band
    return client_service_pb2.CreateKeyPersonRequest(key_person=message, request_id=request_id(rng))
