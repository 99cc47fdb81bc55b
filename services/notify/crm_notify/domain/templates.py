"""Message templates with a deliberately tiny, safe placeholder language.

Syntax: ``{{ name }}`` or ``{{ name | filter | filter:'argument' }}``. A name is a bare
identifier (no dots, brackets or calls), so a template can never reach attributes or run code;
filters come from a fixed set. ``\\{{`` and ``\\}}`` produce literal braces. Everything else is
literal text. Templates are parsed once at compile time, where unknown variables, unknown
filters and malformed braces are rejected; rendering only substitutes checked values.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from crm_notify.domain.formatting import (
    Locale,
    coerce,
    format_date,
    format_default,
    format_money,
    format_percent,
    mask_mobile,
    normalize_locale,
)
from crm_notify.domain.template_types import (
    FilterCall,
    Placeholder,
    RenderedMessage,
    RenderError,
    Segment,
    TemplateError,
    VariableSpec,
)

MAX_TEMPLATE_LENGTH: Final = 20_000
FILTERS: Final[frozenset[str]] = frozenset(
    {"money", "percent", "date", "upper", "mask_mobile", "default"}
)
# Filters that only make sense for some declared types; checked at compile time so a typo
# such as `{{ client_name | money }}` is caught before any message goes out.
_FILTER_TYPES: Final[Mapping[str, frozenset[str]]] = {
    "money": frozenset({"money", "number"}),
    "percent": frozenset({"percent", "number"}),
    "date": frozenset({"date"}),
    "mask_mobile": frozenset({"string"}),
}
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NAME_AT: Final = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*")
_FILTER_AT: Final = re.compile(r"\|\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?::\s*'([^']*)'\s*)?")


@dataclass(frozen=True)
class CompiledTemplate:
    """A parsed template; build it with `compile_template`, then call `render`."""

    subject_parts: tuple[Segment, ...]
    body_parts: tuple[Segment, ...]
    variables: Mapping[str, VariableSpec]
    warnings: tuple[str, ...] = field(default=())

    @property
    def variables_used(self) -> frozenset[str]:
        """Return the names the subject or body refer to."""
        parts = (*self.subject_parts, *self.body_parts)
        return frozenset(p.variable for p in parts if isinstance(p, Placeholder))

    def render(
        self, values: Mapping[str, object], *, locale: str, html: bool = False
    ) -> RenderedMessage:
        """Render subject and body; with `html`, escape substituted values in the body.

        Values for undeclared names are ignored. A required value that is missing or None, or
        any value of the wrong type, raises RenderError naming the variable.
        """
        try:
            resolved_locale = normalize_locale(locale)
        except ValueError as exc:
            raise RenderError("locale", str(exc)) from None
        checked = self._check_values(values)
        subject = self._render_parts(self.subject_parts, checked, resolved_locale, _one_line)
        body_escape = html_lib.escape if html else _identity
        body = self._render_parts(self.body_parts, checked, resolved_locale, body_escape)
        return RenderedMessage(subject=subject, body=body)

    def _check_values(self, values: Mapping[str, object]) -> dict[str, object]:
        checked: dict[str, object] = {}
        for name, spec in self.variables.items():
            raw = values.get(name)
            if raw is None:
                if spec.required:
                    raise RenderError(name, "missing required value")
                continue
            try:
                checked[name] = coerce(raw, spec.type)
            except ValueError as exc:
                raise RenderError(name, f"{spec.type} value expected: {exc}") from None
        return checked

    def _render_parts(
        self,
        parts: tuple[Segment, ...],
        values: Mapping[str, object],
        locale: Locale,
        escape: Callable[[str], str],
    ) -> str:
        out: list[str] = []
        for part in parts:
            if isinstance(part, str):
                out.append(part)
            else:
                spec = self.variables[part.variable]
                out.append(escape(_evaluate(part, values.get(part.variable), spec, locale)))
        return "".join(out)


def compile_template(
    *, subject: str, body: str, declared_variables: Mapping[str, VariableSpec]
) -> CompiledTemplate:
    """Parse and check a subject/body pair against its declared variables.

    Raise TemplateError for an undeclared variable, an unknown or misapplied filter, malformed
    braces, a multi-line subject or a text over MAX_TEMPLATE_LENGTH. A required variable that
    is never used is reported in `warnings`, not raised, because a template may legitimately
    carry data only some locales show.
    """
    for name in declared_variables:
        if not _IDENTIFIER.fullmatch(name):
            raise TemplateError("variables", f"invalid variable name {name!r}")
    if "\n" in subject or "\r" in subject:
        raise TemplateError("subject", "subject must be a single line")
    subject_parts = _parse("subject", subject, declared_variables)
    body_parts = _parse("body", body, declared_variables)
    used = {p.variable for p in (*subject_parts, *body_parts) if isinstance(p, Placeholder)}
    warnings = tuple(
        f"required variable {name!r} is never used"
        for name, spec in declared_variables.items()
        if spec.required and name not in used
    )
    return CompiledTemplate(subject_parts, body_parts, dict(declared_variables), warnings)


def _parse(
    field_name: str, text: str, declared: Mapping[str, VariableSpec]
) -> tuple[Segment, ...]:
    if len(text) > MAX_TEMPLATE_LENGTH:
        raise TemplateError(field_name, f"template is longer than {MAX_TEMPLATE_LENGTH} characters")
    parts: list[Segment] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith(("\\{{", "\\}}"), i):
            literal.append(text[i + 1 : i + 3])
            i += 3
        elif text.startswith("{{", i):
            end = text.find("}}", i + 2)
            if end == -1:
                raise TemplateError(field_name, "unclosed '{{'", i)
            placeholder = _parse_placeholder(field_name, text[i + 2 : end], i, declared)
            if literal:
                parts.append("".join(literal))
                literal.clear()
            parts.append(placeholder)
            i = end + 2
        elif text.startswith("}}", i):
            raise TemplateError(field_name, "unmatched '}}'", i)
        else:
            literal.append(text[i])
            i += 1
    if literal:
        parts.append("".join(literal))
    return tuple(parts)


def _parse_placeholder(
    field_name: str, inner: str, position: int, declared: Mapping[str, VariableSpec]
) -> Placeholder:
    name_match = _NAME_AT.match(inner)
    if "{{" in inner or name_match is None:
        raise TemplateError(field_name, f"malformed placeholder '{{{{{inner}}}}}'", position)
    name = name_match.group(1)
    if name not in declared:
        raise TemplateError(field_name, f"unknown template variable {name!r}", position)
    filters: list[FilterCall] = []
    cursor = name_match.end()
    while cursor < len(inner):
        filter_match = _FILTER_AT.match(inner, cursor)
        if filter_match is None:
            raise TemplateError(field_name, f"malformed placeholder '{{{{{inner}}}}}'", position)
        call = FilterCall(filter_match.group(1), filter_match.group(2))
        _check_filter(field_name, call, name, declared[name], position)
        filters.append(call)
        cursor = filter_match.end()
    return Placeholder(name, tuple(filters))


def _check_filter(
    field_name: str, call: FilterCall, variable: str, spec: VariableSpec, position: int
) -> None:
    if call.name not in FILTERS:
        raise TemplateError(field_name, f"unknown filter {call.name!r}", position)
    if call.name == "default" and call.argument is None:
        raise TemplateError(
            field_name, "filter 'default' needs a quoted argument, e.g. default:'n/a'", position
        )
    if call.name != "default" and call.argument is not None:
        raise TemplateError(field_name, f"filter {call.name!r} takes no argument", position)
    allowed = _FILTER_TYPES.get(call.name)
    if allowed is not None and spec.type not in allowed:
        raise TemplateError(
            field_name,
            f"filter {call.name!r} does not apply to {spec.type} variable {variable!r}",
            position,
        )


def _evaluate(placeholder: Placeholder, value: object, spec: VariableSpec, locale: Locale) -> str:
    """Run the filter chain; a missing value passes through every filter except `default`."""
    produced_text = False
    for call in placeholder.filters:
        if call.name == "default":
            if value is None or value == "":
                value, produced_text = call.argument, True
            continue
        if value is None:
            continue
        try:
            value = _apply(call.name, value, locale)
        except ValueError as exc:
            raise RenderError(placeholder.variable, f"filter {call.name!r}: {exc}") from None
        produced_text = True
    if value is None:
        return ""
    return str(value) if produced_text else format_default(value, spec.type, locale)


def _apply(filter_name: str, value: object, locale: Locale) -> str:
    if filter_name == "money":
        return format_money(value, locale)
    if filter_name == "percent":
        return format_percent(value, locale)
    if filter_name == "date":
        return format_date(value, locale)
    if filter_name == "mask_mobile":
        return mask_mobile(value)
    return str(value).upper()


def _one_line(text: str) -> str:
    # A value with a line break in a subject would let a caller inject mail headers.
    return text.replace("\r", " ").replace("\n", " ")


def _identity(text: str) -> str:
    return text
