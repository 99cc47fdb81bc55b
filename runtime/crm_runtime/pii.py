"""Masking of personal data (PIPL / JR/T 0171-2020 C2 fields) for responses and logs."""

from __future__ import annotations

import re

# Resident ID numbers (18 characters; legacy 15-digit ones are accepted nowhere, so they are
# not matched) and mainland mobile numbers, when they stand alone in text. Lookarounds stop
# us from masking parts of longer digit runs.
ID_NUMBER_RE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8}\d{3})([0-9Xx])(?![0-9A-Za-z])")
# A mobile may carry the country code (+86, 0086 or 86, as E.164 systems write it).
MOBILE_RE = re.compile(r"(?<!\d)((?:\+|00)?86)?(1[3-9]\d{9})(?!\d)")

# Cheap pre-check: only text with a run of 11+ digits can hold an ID or mobile number.
DIGIT_RUN_LENGTH = 11  # an ID number or a mainland mobile holds a run this long
LONG_DIGIT_RUN = re.compile(rf"\d{{{DIGIT_RUN_LENGTH}}}")

# Keys whose values are never logged, whatever they look like.
SECRET_KEYS = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "token",
        "authorization",
        "api_key",
        "apikey",
        "x-crm-identity",
        "x-api-key",
        "id_number",
        "mobile_number",
        "mobile",
        "phone",
        "income",
        "income_band",
        "pii_encryption_key",
        "pii_index_key",
        "pii_keyring",
        "page_token_key",
        "page_token_keyring",
        "database_url",
    }
)


def mask_id_number(value: str) -> str:
    """Keep the first 6 and last 4 characters: 110105********1239."""
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_mobile(value: str) -> str:
    """Keep the first 3 and last 4 digits: 138****5678."""
    if len(value) < 8:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str) -> str:
    """Keep the family name only: 张*; for Latin names keep the first letter."""
    if not value:
        return value
    return value[0] + "*" * max(1, len(value) - 1)


def scrub_text(text: str) -> str:
    """Mask ID and mobile numbers that appear anywhere in free text."""
    text = ID_NUMBER_RE.sub(lambda m: mask_id_number(m.group(0)), text)
    return MOBILE_RE.sub(lambda m: (m.group(1) or "") + mask_mobile(m.group(2)), text)


def scrub_value(key: str, value: object) -> object:
    """Return a value that is safe to log under `key`."""
    if key.lower() in SECRET_KEYS:
        return "[redacted]"
    if isinstance(value, dict):
        return {k: scrub_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_value(key, v) for v in value]
    return _scrub_scalar(value)


def _scrub_scalar(value: object) -> object:
    """Return `value` with ID and mobile numbers in its text masked."""
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, str):
        return scrub_text(value) if LONG_DIGIT_RUN.search(value) else value
    # An int stays a number unless it is a mobile. Any other object (a protobuf message, a set)
    # would be printed through repr() by the JSON renderer, past this masking: mask it as text.
    text = str(value)
    masked = scrub_text(text) if LONG_DIGIT_RUN.search(text) else text
    if isinstance(value, int):
        return value if masked == text else masked
    return masked
