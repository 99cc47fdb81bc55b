"""Rows of a synthetic book: valid firms with 1–3 key persons, and bad rows of varied kinds.

A row is a dict in the importer's JSON Lines shape (docs/IMPORT.md). Credit codes and ID
numbers carry correct check characters (crm_client.domain), codes are unique per book, and
a chosen share of rows is spoiled in one field each, so an import must refuse exactly those.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

from crm_client.domain.credit_code import make_credit_code
from crm_client.domain.person_id import make_person_id

Row = dict[str, Any]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"  # noqa: E501
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红文斌波辉宇浩鹏飞玲婷雪琳晨欣怡子轩梓涵一诺宏达振海"  # noqa: E501
BRANDS = "华信中泰恒通宏达瑞丰鑫源永盛金科天成海润新宇鼎盛东方博远汇通嘉禾长城兴业广联星辰安泰"
# (city region code, city name), industry (code, trade word, employees, revenue yuan range).
CITIES = (
    ("110108", "北京"), ("310115", "上海"), ("440300", "深圳"), ("440106", "广州"),
    ("330106", "杭州"), ("320505", "苏州"), ("510107", "成都"), ("420106", "武汉"),
    ("370202", "青岛"), ("610113", "西安"), ("500105", "重庆"), ("120116", "天津"),
)  # fmt: skip
INDUSTRIES = (
    ("C3411", "机械制造", (80, 900), (20_000_000, 900_000_000)),
    ("C3011", "建材", (50, 600), (10_000_000, 500_000_000)),
    ("C3985", "电子", (100, 2000), (50_000_000, 3_000_000_000)),
    ("F5123", "贸易", (10, 150), (5_000_000, 400_000_000)),
    ("I6513", "软件", (20, 500), (3_000_000, 300_000_000)),
    ("G5431", "物流", (30, 800), (10_000_000, 600_000_000)),
    ("E4710", "建筑工程", (60, 1500), (30_000_000, 2_000_000_000)),
    ("A0141", "农业", (10, 300), (2_000_000, 80_000_000)),
)
OWNERSHIP = ("private", "private", "private", "state_owned", "mixed", "foreign", "collective")
ROLES = ("legal_representative", "actual_controller", "cfo", "contact")
EDUCATION = ("secondary", "college", "bachelor", "master", "doctorate")
INCOME = ("below_500k", "500k_2m", "above_2m")
TEAMS = tuple(f"teams/branch-{n:02d}" for n in range(1, 21))


def _person(rng: random.Random, role: str, city: str, today: date) -> Row:
    birth = today - timedelta(days=rng.randint(25 * 365, 65 * 365))
    sequence = rng.randint(0, 999)
    return {
        "role": role,
        "display_name": rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.randint(1, 2))),
        "id_number": make_person_id(city, birth, sequence),
        "mobile_number": f"1{rng.choice('3589')}{rng.randint(0, 999_999_999):09d}",
        "birth_date": birth.isoformat(),
        "gender": "male" if sequence % 2 else "female",
        "education": rng.choice(EDUCATION),
        "occupation": "董事长" if role == "legal_representative" else "经理",
        "income_band": rng.choice(INCOME),
    }


def good_row(rng: random.Random, index: int, today: date) -> Row:
    """Return a valid firm; its credit code is unique for each index below 36**7."""
    city, city_name = rng.choice(CITIES)
    code, trade, employees, revenue = rng.choice(INDUSTRIES)
    body = _encode(index, 7)
    head = rng.randint(1, 9)
    staff = rng.randint(*employees)
    sales = rng.randint(*revenue)
    team = rng.choice(TEAMS)
    brand = rng.choice(BRANDS) + rng.choice(BRANDS)
    roles = ["legal_representative", *rng.sample(ROLES[1:], rng.randint(0, 2))]
    return {
        "display_name": f"{city_name}{brand}{trade}有限公司{index}",
        "credit_code": make_credit_code(f"91{city}", f"{head}{body}"),
        "industry_code": code,
        "region_code": city,
        "ownership_type": rng.choice(OWNERSHIP),
        "founding_date": (today - timedelta(days=rng.randint(400, 30 * 365))).isoformat(),
        "registered_capital": str(rng.randint(1, 200) * 500_000),
        "employee_count": staff,
        "annual_revenue": str(sales),
        "previous_annual_revenue": str(int(sales * rng.uniform(0.7, 1.2))),
        "total_assets": str(int(sales * rng.uniform(0.8, 2.5))),
        "group": "",
        "project_finance": False,
        "relationship_manager": f"staff/rm-{rng.randint(1, 400):03d}",
        "team": team,
        "key_persons": [_person(rng, role, city, today) for role in roles],
    }


def _encode(value: int, width: int) -> str:
    digits = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # the credit-code alphabet without I O S V Z
    out = []
    for _ in range(width):
        value, rest = divmod(value, len(digits))
        out.append(digits[rest])
    return "".join(reversed(out))


def _bad_check_character(row: Row, rng: random.Random) -> str:
    code = row["credit_code"]
    row["credit_code"] = code[:-1] + ("0" if code[-1] != "0" else "1")
    return "client.credit_code"


def _future_founding(row: Row, rng: random.Random) -> str:
    row["founding_date"] = (date.today() + timedelta(days=rng.randint(400, 900))).isoformat()
    return "client.founding_date"


def _bad_industry(row: Row, rng: random.Random) -> str:
    row["industry_code"] = rng.choice(("Z9999", "C99", "X"))
    return "client.industry_code"


def _bad_id_number(row: Row, rng: random.Random) -> str:
    person = row["key_persons"][0]
    number = person["id_number"]
    person["id_number"] = number[:-1] + ("0" if number[-1] != "0" else "1")
    return "key_persons[0].id_number"


def _no_name(row: Row, rng: random.Random) -> str:
    row["display_name"] = "  "
    return "client.display_name"


def _bad_manager(row: Row, rng: random.Random) -> str:
    row["relationship_manager"] = "rm 17"
    return "relationship_manager"


def _bad_mobile(row: Row, rng: random.Random) -> str:
    row["key_persons"][0]["mobile_number"] = "12345"
    return "key_persons[0].mobile_number"


SPOILERS: tuple[Callable[[Row, random.Random], str], ...] = (
    _bad_check_character,
    _future_founding,
    _bad_industry,
    _bad_id_number,
    _no_name,
    _bad_manager,
    _bad_mobile,
)


def book(
    count: int, *, bad_percent: float = 0.0, seed: int = 7, today: date | None = None
) -> Iterator[tuple[Row, str]]:
    """Yield `count` rows and, for each spoiled one, the field it spoiled ("" when good).

    Besides the spoilers above, some bad rows repeat an earlier row's credit code.
    """
    rng = random.Random(seed)
    day = today or date.today()
    earlier: list[str] = []
    for index in range(count):
        row = good_row(rng, index, day)
        spoiled = ""
        # Exactly bad_percent of every 10,000 rows, spread by a multiplicative hash.
        if (index * 7919) % 10_000 < bad_percent * 100:
            kind = rng.randrange(len(SPOILERS) + 1)
            if kind == len(SPOILERS) and earlier:
                row["credit_code"] = rng.choice(earlier)
                spoiled = "client.credit_code"
            else:
                spoiled = SPOILERS[kind % len(SPOILERS)](row, rng)
        elif len(earlier) < 1000:
            earlier.append(row["credit_code"])
        yield row, spoiled
