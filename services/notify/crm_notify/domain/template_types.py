"""The vocabulary of templates: declared variables, parsed placeholders, results, errors.

Kept apart from the parser and renderer (templates.py) so callers that only catch errors or
declare variables do not depend on the template language itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_notify.domain.formatting import VARIABLE_TYPES, VariableType


class TemplateError(ValueError):
    """A template text that cannot be compiled; `field` names the offending part."""

    def __init__(self, field: str, message: str, position: int | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.position = position


class RenderError(ValueError):
    """A value that cannot be rendered; `variable` names the offending variable."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable
        self.message = message


@dataclass(frozen=True)
class VariableSpec:
    """The declared type of a template variable and whether callers must supply it."""

    type: VariableType
    required: bool = True

    def __post_init__(self) -> None:
        """Reject types outside the supported set."""
        if self.type not in VARIABLE_TYPES:
            raise ValueError(f"unknown variable type {self.type!r}")


@dataclass(frozen=True)
class RenderedMessage:
    """A subject and body ready for a channel."""

    subject: str
    body: str


@dataclass(frozen=True)
class FilterCall:
    """One filter in a placeholder's chain, with its quoted argument if it takes one."""

    name: str
    argument: str | None = None


@dataclass(frozen=True)
class Placeholder:
    """A parsed ``{{ variable | filters }}`` expression."""

    variable: str
    filters: tuple[FilterCall, ...] = ()


Segment = str | Placeholder
