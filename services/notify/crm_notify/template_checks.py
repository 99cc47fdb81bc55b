"""Template validation and mapping: request fields → checked, compiled parts; rows → messages."""

from __future__ import annotations

import json

from crm.notify.v1 import template_pb2
from crm_notify.domain.formatting import normalize_locale
from crm_notify.domain.localized import LocalizedTemplate, TemplateText
from crm_notify.domain.template_types import TemplateError
from crm_notify.mapping import (
    CATEGORY_ENUMS,
    CATEGORY_NAMES,
    VARIABLE_TYPE_ENUMS,
    VARIABLE_TYPE_NAMES,
    etag,
    timestamp,
)
from crm_notify.models import TemplateRow
from crm_notify.names import Violations
from crm_notify.templates_store import VariableDef, compile_parts, variables_of, variants_of
from crm_runtime.errors import InvalidArgument


def template_message(row: TemplateRow, compiled: LocalizedTemplate) -> template_pb2.Template:
    """Return the Template for a row."""
    warnings = sorted({w for v in compiled.variants.values() for w in v.warnings})
    return template_pb2.Template(
        name=f"templates/{row.template_id}",
        display_name=row.display_name,
        category=CATEGORY_ENUMS[row.category],
        variables=[
            template_pb2.TemplateVariable(
                name=v.name,
                type=VARIABLE_TYPE_ENUMS[v.type],
                optional=v.optional,
            )
            for v in variables_of(row)
        ],
        variants=[
            template_pb2.TemplateVariant(locale=locale, subject=text.subject, body=text.body)
            for locale, text in variants_of(row).items()
        ],
        fallback_locale=row.fallback_locale,
        version=row.version,
        etag=etag("template", row.template_id, row.version),
        create_time=timestamp(row.create_time),
        update_time=timestamp(row.update_time),
        warnings=warnings,
        built_in=row.built_in,
    )


def checked_parts(
    template: template_pb2.Template, paths: set[str], row: TemplateRow | None
) -> tuple[str, list[VariableDef], dict[str, TemplateText], str, LocalizedTemplate]:
    """Validate the fields in `paths` (others come from `row`) and compile the result."""
    v = Violations()
    category = row.category if row is not None else ""
    if "category" in paths:
        category = CATEGORY_NAMES.get(template.category, "")
        if not category:
            v.add("template.category", "is required")
    variables = variables_of(row) if row is not None and "variables" not in paths else []
    if "variables" in paths:
        seen: set[str] = set()
        for i, var in enumerate(template.variables):
            kind = VARIABLE_TYPE_NAMES.get(var.type, "")
            if not kind:
                v.add(f"template.variables[{i}].type", "is required")
            if var.name in seen:
                v.add(f"template.variables[{i}].name", f"{var.name!r} is declared twice")
            seen.add(var.name)
            variables.append(VariableDef(var.name, kind or "string", var.optional))
    variants = variants_of(row) if row is not None and "variants" not in paths else {}
    positions: dict[str, int] = {}
    if "variants" in paths:
        if not template.variants:
            v.add("template.variants", "needs at least one locale")
        for i, variant in enumerate(template.variants):
            variants[variant.locale] = TemplateText(variant.subject, variant.body)
            positions[_locale_key(variant.locale)] = i
            if not variant.subject.strip():
                v.add(f"template.variants[{i}].subject", "is required")
    fallback = row.fallback_locale if row is not None else "zh-CN"
    if "fallback_locale" in paths:
        fallback = template.fallback_locale or "zh-CN"
    v.raise_if_any()
    try:
        compiled = compile_parts(variables, variants, fallback)
    except TemplateError as exc:
        raise InvalidArgument.of(
            _violation_field(exc.field, positions), exc.message, reason="TEMPLATE_INVALID"
        ) from exc
    except ValueError as exc:  # An invalid variable name or type.
        raise InvalidArgument.of("template.variables", str(exc), reason="TEMPLATE_INVALID") from exc
    return category, variables, variants, fallback, compiled


def _locale_key(locale: str) -> str:
    try:
        return normalize_locale(locale)
    except ValueError:
        return locale


def _violation_field(field: str, positions: dict[str, int]) -> str:
    """Map the domain's "zh-CN.body" onto the request path "template.variants[0].body"."""
    locale, _, part = field.partition(".")
    if part and locale in positions:
        return f"template.variants[{positions[locale]}].{part}"
    if field == "fallback_locale":
        return "template.fallback_locale"
    return "template.variants"


def store_parts(
    row: TemplateRow, variables: list[VariableDef], variants: dict[str, TemplateText]
) -> None:
    """Write variables and variants into the row's JSON columns."""
    row.variables_json = json.dumps([v.__dict__ for v in variables], ensure_ascii=False)
    row.variants_json = json.dumps(
        [{"locale": k, "subject": t.subject, "body": t.body} for k, t in variants.items()],
        ensure_ascii=False,
    )
