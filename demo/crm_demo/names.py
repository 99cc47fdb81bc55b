"""Hold the reference data for synthetic people: surnames, given-name characters, origins.

Surname weights follow the approximate shares of the most common Chinese surnames
(percent of the population); compound surnames are rare and weighted accordingly. Origin
codes are real county-level divisions (GB/T 2260) that appear in resident ID numbers.
"""

from __future__ import annotations

from typing import Final

FAMILY_NAMES: Final[tuple[tuple[str, float], ...]] = (
    ("王", 7.1),
    ("李", 7.0),
    ("张", 6.7),
    ("刘", 5.4),
    ("陈", 4.5),
    ("杨", 3.1),
    ("黄", 2.2),
    ("赵", 2.0),
    ("吴", 2.0),
    ("周", 1.9),
    ("徐", 1.3),
    ("孙", 1.2),
    ("马", 1.2),
    ("朱", 1.1),
    ("胡", 1.1),
    ("郭", 1.1),
    ("何", 1.0),
    ("高", 1.0),
    ("林", 1.0),
    ("罗", 0.9),
    ("郑", 0.8),
    ("梁", 0.8),
    ("谢", 0.7),
    ("宋", 0.7),
    ("唐", 0.6),
    ("许", 0.6),
    ("韩", 0.6),
    ("冯", 0.6),
    ("邓", 0.6),
    ("曹", 0.6),
    ("彭", 0.5),
    ("曾", 0.5),
    ("肖", 0.5),
    ("田", 0.5),
    ("董", 0.5),
    ("袁", 0.4),
    ("潘", 0.4),
    ("于", 0.4),
    ("蒋", 0.4),
    ("蔡", 0.4),
    ("余", 0.4),
    ("杜", 0.4),
    ("叶", 0.4),
    ("程", 0.4),
    ("苏", 0.3),
    ("魏", 0.3),
    ("吕", 0.3),
    ("丁", 0.3),
    ("任", 0.3),
    ("沈", 0.3),
    ("姚", 0.3),
    ("卢", 0.3),
    ("姜", 0.3),
    ("崔", 0.3),
    ("钟", 0.3),
    ("谭", 0.3),
    ("陆", 0.3),
    ("汪", 0.3),
    ("范", 0.3),
    ("金", 0.3),
    ("欧阳", 0.05),
    ("司马", 0.01),
    ("诸葛", 0.01),
)

MALE_GIVEN: Final = (
    "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆旭宁龙林建国志文海东峰亮成振荣晨毅坤博"
)
FEMALE_GIVEN: Final = "芳娜敏静丽艳娟霞秀婷玲桂英雪慧燕倩琳颖洁晶红梅萍兰佳欣怡悦蕾媛琴薇"

ORIGIN_AREAS: Final[tuple[str, ...]] = (
    "110105",
    "110108",
    "110102",
    "120104",
    "120116",
    "130102",
    "130403",
    "140105",
    "150102",
    "210102",
    "210202",
    "220102",
    "230102",
    "310104",
    "310115",
    "310110",
    "320106",
    "320281",
    "320582",
    "320311",
    "330106",
    "330381",
    "330782",
    "330203",
    "340104",
    "350582",
    "350203",
    "350102",
    "360102",
    "370102",
    "370283",
    "370602",
    "410102",
    "411302",
    "420106",
    "420102",
    "430102",
    "430521",
    "440305",
    "440106",
    "441302",
    "440604",
    "445102",
    "450102",
    "500103",
    "500101",
    "510107",
    "511002",
    "520102",
    "530102",
    "610103",
    "620102",
)

# Second and third digits of mainland mobile numbers in use (13x, 15x, 17x, 18x, 19x...).
MOBILE_PREFIXES: Final[tuple[str, ...]] = (
    "30",
    "31",
    "32",
    "33",
    "34",
    "35",
    "36",
    "37",
    "38",
    "39",
    "50",
    "51",
    "52",
    "53",
    "55",
    "56",
    "57",
    "58",
    "59",
    "66",
    "72",
    "73",
    "75",
    "76",
    "77",
    "78",
    "80",
    "81",
    "82",
    "83",
    "84",
    "85",
    "86",
    "87",
    "88",
    "89",
    "91",
    "98",
    "99",
)

AgeBands = tuple[tuple[tuple[int, int], float], ...]

OWNER_AGES: Final[AgeBands] = (
    ((25, 34), 10),
    ((35, 39), 14),
    ((40, 49), 30),
    ((50, 59), 26),
    ((60, 69), 16),
    ((70, 75), 4),
)
YOUNG_FIRM_OWNER_AGES: Final[AgeBands] = (
    ((25, 34), 30),
    ((35, 39), 25),
    ((40, 49), 28),
    ((50, 59), 12),
    ((60, 69), 5),
)
# State-owned firms are led by appointed managers, who retire around 60.
STATE_OWNED_OWNER_AGES: Final[AgeBands] = (
    ((38, 39), 4),
    ((40, 49), 40),
    ((50, 59), 50),
    ((60, 62), 6),
)
CONTROLLER_AGES: Final[AgeBands] = (((30, 39), 15), ((40, 59), 60), ((60, 75), 25))
CFO_AGES: Final[AgeBands] = (((28, 34), 20), ((35, 44), 45), ((45, 59), 35))

OWNER_OCCUPATIONS: Final = ("董事长", "执行董事兼总经理", "总经理", "董事长兼总经理")
STATE_OWNED_OCCUPATIONS: Final = ("董事长", "党委书记、董事长", "总经理")
CONTROLLER_OCCUPATIONS: Final = ("实际控制人、董事长", "控股股东", "董事")
CFO_OCCUPATIONS: Final = ("财务总监", "财务负责人", "总会计师")
CONTACT_OCCUPATIONS: Final = ("财务经理", "融资经理", "出纳", "综合部经理")
GUARANTOR_OCCUPATIONS: Final = ("企业主", "个体经营者", "自由职业", "公司股东")
