"""Parse industry codes (GB/T 4754-2017 国民经济行业分类) and map them to MIIT sectors.

Levels: section letter → 2-digit division → 3-digit group → 4-digit class. Accepted
forms are a bare section (``C``), or a division, group or class with or without the
section letter (``C30``/``30``, ``C301``/``301``, ``C3011``/``3011``). A 3- or 4-digit
code's division is its first two digits. Codes are normalised to the ``C3011`` form.

Only the section table and division ranges are checked; whether a given group or class
exists within its division is not (the full class list is not held here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class IndustrySection:
    """One GB/T 4754-2017 section (门类) and the divisions (大类) it spans."""

    letter: str
    name_zh: str
    name_en: str
    first_division: int
    last_division: int


SECTIONS: Final[tuple[IndustrySection, ...]] = (
    IndustrySection(
        "A", "农、林、牧、渔业", "Agriculture, forestry, animal husbandry and fishery", 1, 5,
    ),
    IndustrySection("B", "采矿业", "Mining", 6, 12),
    IndustrySection("C", "制造业", "Manufacturing", 13, 43),
    IndustrySection(
        "D", "电力、热力、燃气及水生产和供应业",
        "Production and supply of electricity, heat, gas and water", 44, 46,
    ),
    IndustrySection("E", "建筑业", "Construction", 47, 50),
    IndustrySection("F", "批发和零售业", "Wholesale and retail trade", 51, 52),
    IndustrySection(
        "G", "交通运输、仓储和邮政业", "Transport, storage and postal services", 53, 60,
    ),
    IndustrySection("H", "住宿和餐饮业", "Accommodation and catering", 61, 62),
    IndustrySection(
        "I", "信息传输、软件和信息技术服务业",
        "Information transmission, software and information technology services", 63, 65,
    ),
    IndustrySection("J", "金融业", "Finance", 66, 69),
    IndustrySection("K", "房地产业", "Real estate", 70, 70),
    IndustrySection("L", "租赁和商务服务业", "Leasing and business services", 71, 72),
    IndustrySection(
        "M", "科学研究和技术服务业", "Scientific research and technical services", 73, 75,
    ),
    IndustrySection(
        "N", "水利、环境和公共设施管理业",
        "Water conservancy, environment and public facilities management", 76, 79,
    ),
    IndustrySection(
        "O", "居民服务、修理和其他服务业", "Resident services, repair and other services", 80, 82,
    ),
    IndustrySection("P", "教育", "Education", 83, 83),
    IndustrySection("Q", "卫生和社会工作", "Health and social work", 84, 85),
    IndustrySection("R", "文化、体育和娱乐业", "Culture, sports and entertainment", 86, 90),
    IndustrySection(
        "S", "公共管理、社会保障和社会组织",
        "Public administration, social security and social organisations", 91, 96,
    ),
    IndustrySection("T", "国际组织", "International organisations", 97, 97),
)

SECTIONS_BY_LETTER: Final = {section.letter: section for section in SECTIONS}

# Divisions that lending policy watches for concentration (DOMAIN §5): 两高一剩 (high
# pollution, high energy use, overcapacity) plus real estate. 城投 platforms have no
# division of their own (they sit in 72 among ordinary holding companies), so they are
# flagged from other data, not from the industry code.
WATCHLIST_DIVISIONS: Final[dict[str, str]] = {
    "06": "coal",
    "30": "non-metallic minerals incl. cement/glass",
    "31": "steel",
    "32": "non-ferrous incl. aluminium",
    "37": "shipbuilding etc.",
    "70": "real estate",
}

_CODE_RE: Final = re.compile(r"([A-T])?([0-9]{2,4})?\Z")


@dataclass(frozen=True)
class IndustryCode:
    """A parsed industry code; finer levels are None when the code stops above them."""

    section: str
    division: str | None
    group: str | None
    klass: str | None
    normalised: str


def _section_for_division(division: str) -> IndustrySection | None:
    """Return the section whose division range contains ``division``, if any."""
    number = int(division)
    for section in SECTIONS:
        if section.first_division <= number <= section.last_division:
            return section
    return None


def parse_industry(code: str) -> IndustryCode:
    """Parse a section, division, group or class code; raise ValueError with the reason.

    Surrounding whitespace is ignored and a lower-case section letter is accepted, since
    both are common in spreadsheets and harmless to fold.
    """
    text = code.strip().upper()
    match = _CODE_RE.match(text)
    if not text or match is None:
        msg = (
            f"industry code {code!r} must be a section letter A-T and/or "
            "a 2-, 3- or 4-digit division, group or class"
        )
        raise ValueError(msg)
    letter, digits = match.group(1), match.group(2)
    if digits is None:
        return IndustryCode(letter, None, None, None, letter)
    division = digits[:2]
    section = _section_for_division(division)
    if section is None:
        msg = f"industry division {division!r} is not in any GB/T 4754-2017 section"
        raise ValueError(msg)
    if letter is not None and letter != section.letter:
        msg = f"industry code {code!r}: division {division} belongs to section {section.letter}"
        raise ValueError(msg)
    return IndustryCode(
        section=section.letter,
        division=division,
        group=digits[:3] if len(digits) >= 3 else None,
        klass=digits if len(digits) == 4 else None,
        normalised=section.letter + digits,
    )


def section_of(code: str) -> str:
    """Return the section letter of an industry code (e.g. "C" for "3011")."""
    return parse_industry(code).section


# Sections that map to a single MIIT 2011 sector whatever the division.
_SECTOR_BY_SECTION: Final = {
    "A": "agriculture",
    "B": "industry",
    "C": "industry",
    "D": "industry",
    "E": "construction",
    "H": "hotels_catering",
    "L": "leasing_business_services",
}

# Divisions of the sections that MIIT splits (F, G, I). The 2011 text reads
# 交通运输业（不含铁路运输业）; railways (53) are kept under transport here, as the
# brief and DOMAIN §2 do, because the exclusion is unverified offline [M].
_SECTOR_BY_DIVISION: Final = {
    "51": "wholesale",
    "52": "retail",
    **{f"{division}": "transport" for division in range(53, 59)},
    "59": "warehousing",
    "60": "postal",
    "63": "telecoms",
    "64": "telecoms",
    "65": "software_it",
}

# Real estate groups in K70: only development (701) and property management (702) have
# their own MIIT thresholds; agency, leasing and other (703, 704, 709) are "other".
_SECTOR_BY_REAL_ESTATE_GROUP: Final = {
    "701": "real_estate_development",
    "702": "property_management",
}


def miit_sector_of(code: str) -> str:
    """Return the MIIT 2011 size-class sector key for an industry code.

    Raise ValueError for a bare F, G or I: each spans sectors with very different
    thresholds (wholesale vs retail, transport vs postal), so guessing would misclassify.
    A bare K or K70 maps to real-estate development, the usual lending case.
    """
    parsed = parse_industry(code)
    if parsed.section in _SECTOR_BY_SECTION:
        return _SECTOR_BY_SECTION[parsed.section]
    if parsed.section == "K":
        if parsed.group is None:
            return "real_estate_development"
        return _SECTOR_BY_REAL_ESTATE_GROUP.get(parsed.group, "other")
    if parsed.section in {"F", "G", "I"}:
        if parsed.division is None:
            msg = f"section {parsed.section} spans several MIIT sectors; give a division"
            raise ValueError(msg)
        return _SECTOR_BY_DIVISION[parsed.division]
    # Finance, research, public services and the rest have no sector of their own.
    return "other"


MIIT_SECTOR_OF: Final = miit_sector_of
"""Alias kept under the name other modules import; see :func:`miit_sector_of`."""
