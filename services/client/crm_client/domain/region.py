"""Check administrative division codes (行政区划代码, GB/T 2260).

A code has 6 digits: province (2), prefecture (2) and county (2). Only the province
prefix is checked against a table; the full list of prefecture and county codes changes
every year and is not held here.
"""

from __future__ import annotations

from typing import Final

from crm_runtime import formats

REGION_CODE_LENGTH: Final = formats.REGION_CODE_LENGTH  # shared with the OpenAPI pattern

PROVINCE_NAMES: Final[dict[str, str]] = {
    "11": "Beijing",
    "12": "Tianjin",
    "13": "Hebei",
    "14": "Shanxi",
    "15": "Inner Mongolia",
    "21": "Liaoning",
    "22": "Jilin",
    "23": "Heilongjiang",
    "31": "Shanghai",
    "32": "Jiangsu",
    "33": "Zhejiang",
    "34": "Anhui",
    "35": "Fujian",
    "36": "Jiangxi",
    "37": "Shandong",
    "41": "Henan",
    "42": "Hubei",
    "43": "Hunan",
    "44": "Guangdong",
    "45": "Guangxi",
    "46": "Hainan",
    "50": "Chongqing",
    "51": "Sichuan",
    "52": "Guizhou",
    "53": "Yunnan",
    "54": "Tibet",
    "61": "Shaanxi",
    "62": "Gansu",
    "63": "Qinghai",
    "64": "Ningxia",
    "65": "Xinjiang",
    "71": "Taiwan",
    "81": "Hong Kong",
    "82": "Macao",
}
"""Province-level division code → English name."""

_DIGITS: Final = frozenset("0123456789")


def region_problem(code: str) -> str | None:
    """Return None if ``code`` is a 6-digit code with a real province prefix, else why not."""
    if len(code) != REGION_CODE_LENGTH or not set(code) <= _DIGITS:
        return f"must be {REGION_CODE_LENGTH} digits"
    if code[:2] not in PROVINCE_NAMES:
        return f"unknown province-level code '{code[:2]}'"
    return None


def province_name(code: str) -> str:
    """Return the English province name for a valid region code; raise ValueError if invalid."""
    problem = region_problem(code)
    if problem is not None:
        msg = f"invalid region code {code!r}: {problem}"
        raise ValueError(msg)
    return PROVINCE_NAMES[code[:2]]
