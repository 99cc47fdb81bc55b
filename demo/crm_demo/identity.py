"""Mint unique legal names and unified social credit codes for synthetic firms.

Names follow the registration pattern 行政区划 + 字号 + 行业 + 组织形式, e.g.
深圳市华信精密制造有限公司; foreign-invested firms put the city in brackets
(华信电子（苏州）有限公司). Credit codes are built by ``make_credit_code`` so both check
characters are right; firms registered since the 2015 reform get an ``MA…`` body, older
firms keep the digits of their former organisation code.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Final

from crm_client.domain.credit_code import CHARSET, make_credit_code
from crm_demo.financials import weighted_choice
from crm_demo.reference import (
    BRAND_CHARS,
    COMPANY_SUFFIXES,
    COOPERATIVE_WORDS,
    INDIVIDUAL_BUSINESS_WORDS,
    MUNICIPALITIES,
    District,
)

_UNIFIED_CODE_START: Final = date(2015, 10, 1)  # 三证合一: new firms get MA… bodies
_NAME_ATTEMPTS: Final = 40


class FirmIdentities:
    """Hand out brands, legal names and credit codes, never the same one twice."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._names: set[str] = set()
        self._codes: set[str] = set()

    def brand(self) -> tuple[str, str]:
        """Return a two-character brand (字号) and its pinyin, e.g. ("华信", "huaxin")."""
        first, second = self._rng.sample(BRAND_CHARS, 2)
        return first[0] + second[0], first[1] + second[1]

    def company_name(
        self,
        *,
        district: District,
        brand: str,
        words: tuple[str, ...],
        foreign: bool,
        holding_style: bool,
    ) -> str:
        """Return an unused company name; draw a fresh brand if ``brand`` is exhausted."""
        rng = self._rng
        for attempt in range(_NAME_ATTEMPTS):
            if attempt and attempt % 10 == 0:
                brand = self.brand()[0]
            word = rng.choice(words)
            suffix = weighted_choice(rng, COMPANY_SUFFIXES)
            if holding_style and rng.random() < 0.4:
                suffix = "集团有限公司"
            if foreign:
                name = f"{brand}{word}（{district.city_short}）{suffix}"
            else:
                name = f"{self._city_form(district)}{brand}{word}{suffix}"
            if self._claim(name):
                return name
        msg = "could not find an unused company name"
        raise RuntimeError(msg)

    def individual_business_name(self, *, district: District, brand: str) -> str:
        """Return an unused trade name of an individual business (个体工商户)."""
        return self._unique_local_name(district, brand, INDIVIDUAL_BUSINESS_WORDS, "")

    def cooperative_name(self, *, district: District, brand: str) -> str:
        """Return an unused name of a farmers' cooperative (农民专业合作社)."""
        return self._unique_local_name(district, brand, COOPERATIVE_WORDS, "专业合作社")

    def credit_code(self, *, prefix2: str, region_code: str, founded: date) -> str:
        """Return an unused valid credit code registered in ``region_code``."""
        rng = self._rng
        while True:
            if founded >= _UNIFIED_CODE_START:
                body = "MA" + "".join(rng.choice(CHARSET) for _ in range(6))
            else:
                body = str(rng.randint(1, 9)) + "".join(str(rng.randrange(10)) for _ in range(7))
            code = make_credit_code(prefix2 + region_code, body)
            if code not in self._codes:
                self._codes.add(code)
                return code

    def _unique_local_name(
        self, district: District, brand: str, words: tuple[str, ...], ending: str
    ) -> str:
        """Return an unused name made of city, district, brand, a trade word and ending."""
        for attempt in range(_NAME_ATTEMPTS):
            if attempt and attempt % 10 == 0:
                brand = self.brand()[0]
            name = f"{district.city}{district.district}{brand}{self._rng.choice(words)}{ending}"
            if self._claim(name):
                return name
        msg = "could not find an unused local business name"
        raise RuntimeError(msg)

    def _city_form(self, district: District) -> str:
        """Return the place part of a name: 北京 for municipalities, usually 深圳市 otherwise."""
        if district.city_short in MUNICIPALITIES or self._rng.random() < 0.15:
            return district.city_short
        return district.city

    def _claim(self, name: str) -> bool:
        """Reserve ``name`` and return True, or return False if it is already taken."""
        if name in self._names:
            return False
        self._names.add(name)
        return True
