"""Shapes of string fields, written once for the service that validates them and the gateway
that documents them (OpenAPI `pattern`, crm_gateway.openapi_contract).

A pattern here is the necessary shape only: the owning service checks more (a credit code's
two check characters, a region's province). Services import the constants they validate with
from here, so the documented pattern cannot drift from the check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

CREDIT_CODE_CHARSET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters of a unified social credit code (no I, O, S, V, Z); index = value."""
CREDIT_CODE_LENGTH: Final = 18
REGION_CODE_LENGTH: Final = 6


@dataclass(frozen=True)
class FieldFormat:
    """The documented shape of a string field."""

    pattern: str
    description: str
    example: str


FIELD_FORMATS: Final[dict[str, FieldFormat]] = {
    "crm.client.v1.Client.credit_code": FieldFormat(
        pattern=f"^[{CREDIT_CODE_CHARSET}]{{{CREDIT_CODE_LENGTH}}}$",
        description="GB 32100-2015 credit code; both check characters are verified",
        example="91110108MA01B2C344",
    ),
    "crm.client.v1.Client.region_code": FieldFormat(
        pattern=f"^[0-9]{{{REGION_CODE_LENGTH}}}$",
        description="GB/T 2260 division code; the first two digits name a province",
        example="110108",
    ),
}
"""Formats by fully qualified field name (message full name + field name)."""
