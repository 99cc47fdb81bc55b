"""Decide who stands behind a client: the roles present and the people who fill them.

Shares across the book: a legal representative always; an actual controller for about
60% (natural persons only, so never for state-owned firms, whose controller is the
state); a CFO for about 40%, rising with size; a day-to-day contact for half; a
natural-person guarantor for about 10%, usually the owner's spouse or the owner, as in
the joint-liability guarantees Chinese banks take from private-firm owners.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Final

from crm.client.v1 import client_pb2
from crm_client.domain.size_class import SizeClassName
from crm_demo.names import (
    CFO_AGES,
    CFO_OCCUPATIONS,
    CONTACT_OCCUPATIONS,
    CONTROLLER_AGES,
    CONTROLLER_OCCUPATIONS,
    GUARANTOR_OCCUPATIONS,
    OWNER_AGES,
    OWNER_OCCUPATIONS,
    STATE_OWNED_OCCUPATIONS,
    STATE_OWNED_OWNER_AGES,
    YOUNG_FIRM_OWNER_AGES,
)
from crm_demo.people import Person, PersonFactory

LEGAL_REPRESENTATIVE: Final = client_pb2.KEY_PERSON_ROLE_LEGAL_REPRESENTATIVE
ACTUAL_CONTROLLER: Final = client_pb2.KEY_PERSON_ROLE_ACTUAL_CONTROLLER
CFO: Final = client_pb2.KEY_PERSON_ROLE_CFO
CONTACT: Final = client_pb2.KEY_PERSON_ROLE_CONTACT
GUARANTOR: Final = client_pb2.KEY_PERSON_ROLE_GUARANTOR

STATE_OWNED: Final = client_pb2.OWNERSHIP_TYPE_STATE_OWNED
_CONTROLLER_SHARE: Final[dict[client_pb2.OwnershipType, float]] = {
    client_pb2.OWNERSHIP_TYPE_PRIVATE: 0.85,
    client_pb2.OWNERSHIP_TYPE_MIXED: 0.50,
    client_pb2.OWNERSHIP_TYPE_FOREIGN: 0.40,
    client_pb2.OWNERSHIP_TYPE_COLLECTIVE: 0.30,
    STATE_OWNED: 0.0,
}
_OWNER_IS_CONTROLLER: Final = 0.5  # in half the private firms the legal rep controls the firm
_CFO_SHARE: Final[dict[SizeClassName, float]] = {
    "large": 0.8, "medium": 0.6, "small": 0.3, "micro": 0.1,
}  # fmt: skip
_CONTACT_SHARE: Final = 0.5
_GUARANTOR_SHARE: Final[dict[SizeClassName, float]] = {
    "large": 0.03, "medium": 0.09, "small": 0.16, "micro": 0.18,
}  # fmt: skip
_OWNER_GUARANTEES: Final = 0.4  # otherwise the owner's spouse signs

# Income band weights (below 500k, 500k-2m, above 2m) by role and firm size.
_OWNER_INCOME: Final[dict[SizeClassName, tuple[float, float, float]]] = {
    "large": (10, 40, 50), "medium": (20, 50, 30), "small": (40, 45, 15), "micro": (60, 35, 5),
}  # fmt: skip
_CONTROLLER_INCOME: Final[dict[SizeClassName, tuple[float, float, float]]] = {
    "large": (5, 35, 60), "medium": (10, 45, 45), "small": (30, 50, 20), "micro": (55, 40, 5),
}  # fmt: skip
_STATE_OWNED_MANAGER_INCOME: Final = (30.0, 65.0, 5.0)  # SOE pay is capped
_CFO_INCOME: Final = (45.0, 50.0, 5.0)
_LARGE_FIRM_CFO_INCOME: Final = (20.0, 65.0, 15.0)


def legal_representative(
    factory: PersonFactory,
    rng: random.Random,
    *,
    ownership: client_pb2.OwnershipType,
    prefix2: str,
    size_class: SizeClassName,
    province: str,
    young_firm: bool,
) -> Person:
    """Return the legal representative (法定代表人), or the operator of a small business."""
    if ownership == STATE_OWNED:
        return factory.person(
            province=province,
            age=factory.age(STATE_OWNED_OWNER_AGES),
            male_share=0.88,
            income_weights=_STATE_OWNED_MANAGER_INCOME,
            occupation=rng.choice(STATE_OWNED_OCCUPATIONS),
        )
    occupation = {"92": "经营者", "93": "理事长"}.get(prefix2) or rng.choice(OWNER_OCCUPATIONS)
    return factory.person(
        province=province,
        age=factory.age(YOUNG_FIRM_OWNER_AGES if young_firm else OWNER_AGES),
        male_share=0.78,
        income_weights=_OWNER_INCOME[size_class],
        occupation=occupation,
    )


def new_controller(
    factory: PersonFactory, rng: random.Random, *, size_class: SizeClassName, province: str
) -> Person:
    """Return an actual controller who is not the legal representative (a founder, an investor)."""
    return factory.person(
        province=province,
        age=factory.age(CONTROLLER_AGES),
        male_share=0.82,
        income_weights=_CONTROLLER_INCOME[size_class],
        occupation=rng.choice(CONTROLLER_OCCUPATIONS),
    )


def key_people(
    factory: PersonFactory,
    rng: random.Random,
    *,
    owner: Person,
    ownership: client_pb2.OwnershipType,
    prefix2: str,
    size_class: SizeClassName,
    province: str,
    group_controller: Person | None,
) -> list[tuple[Person, client_pb2.KeyPersonRole]]:
    """Return (person, role) pairs for a client whose legal representative is ``owner``."""
    people: list[tuple[Person, client_pb2.KeyPersonRole]] = [(owner, LEGAL_REPRESENTATIVE)]
    controller: Person | None = None
    if group_controller is not None:
        controller = group_controller
    elif prefix2 != "92" and rng.random() < _CONTROLLER_SHARE[ownership]:
        if ownership == client_pb2.OWNERSHIP_TYPE_PRIVATE and rng.random() < _OWNER_IS_CONTROLLER:
            controller = replace(owner, occupation=CONTROLLER_OCCUPATIONS[0])
        else:
            controller = new_controller(factory, rng, size_class=size_class, province=province)
    if controller is not None:
        people.append((controller, ACTUAL_CONTROLLER))
    if rng.random() < _CFO_SHARE[size_class]:
        income = _LARGE_FIRM_CFO_INCOME if size_class == "large" else _CFO_INCOME
        cfo = factory.person(
            province=province,
            age=factory.age(CFO_AGES),
            male_share=0.45,
            income_weights=income,
            occupation=rng.choice(CFO_OCCUPATIONS),
        )
        people.append((cfo, CFO))
    if rng.random() < _CONTACT_SHARE:
        contact = factory.contact(occupation=rng.choice(CONTACT_OCCUPATIONS))
        people.append((contact, CONTACT))
    if ownership != STATE_OWNED and rng.random() < _GUARANTOR_SHARE[size_class]:
        principal = controller or owner
        if rng.random() < _OWNER_GUARANTEES:
            guarantor = principal
        else:
            guarantor = factory.spouse_of(principal, occupation=rng.choice(GUARANTOR_OCCUPATIONS))
        people.append((guarantor, GUARANTOR))
    return people
