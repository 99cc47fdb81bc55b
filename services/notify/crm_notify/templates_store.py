"""Stored templates: JSON columns ↔ the domain's LocalizedTemplate, a compile cache, listing."""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.notify.v1 import template_pb2
from crm_notify.domain.formatting import VariableType
from crm_notify.domain.localized import LocalizedTemplate, TemplateText, compile_localized
from crm_notify.domain.template_types import VariableSpec
from crm_notify.models import TemplateRow
from crm_runtime import names
from crm_runtime.errors import InvalidArgument, NotFound
from crm_runtime.pagination import Page, PageTokens, keyset_page

TEMPLATE = names.pattern_of(template_pb2.Template)


@dataclass(frozen=True)
class VariableDef:
    """A declared variable as stored."""

    name: str
    type: str
    optional: bool = False


@dataclass(frozen=True)
class LoadedTemplate:
    """A compiled template and what a send needs from its row."""

    template_id: str
    category: str
    version: int
    compiled: LocalizedTemplate


def variables_of(row: TemplateRow) -> list[VariableDef]:
    """Return the declared variables of a row."""
    return [VariableDef(**item) for item in json.loads(row.variables_json)]


def variants_of(row: TemplateRow) -> dict[str, TemplateText]:
    """Return locale → text of a row."""
    return {
        item["locale"]: TemplateText(item["subject"], item["body"])
        for item in json.loads(row.variants_json)
    }


def compile_parts(
    variables: list[VariableDef], variants: dict[str, TemplateText], fallback: str
) -> LocalizedTemplate:
    """Compile variants against the declared variables (raises TemplateError or ValueError)."""
    declared = {
        v.name: VariableSpec(cast(VariableType, v.type), required=not v.optional) for v in variables
    }
    return compile_localized(
        variants=variants, declared_variables=declared, fallback_locale=fallback
    )


class TemplateCache:
    """Compiled templates keyed by (id, version); a new version simply misses."""

    def __init__(self, max_entries: int = 1024) -> None:
        self._entries: OrderedDict[tuple[str, int], LocalizedTemplate] = OrderedDict()
        self._max = max_entries

    def compiled(self, row: TemplateRow) -> LocalizedTemplate:
        """Return the compiled form of a stored template."""
        key = (row.template_id, row.version)
        hit = self._entries.get(key)
        if hit is not None:
            self._entries.move_to_end(key)
            return hit
        compiled = compile_parts(variables_of(row), variants_of(row), row.fallback_locale)
        self._entries[key] = compiled
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return compiled


async def load_template(
    session: AsyncSession, cache: TemplateCache, name: str, *, field: str = "template"
) -> LoadedTemplate:
    """Return the named template compiled, or INVALID_ARGUMENT / NOT_FOUND."""
    template_id = TEMPLATE.parse(name, field)["template"]
    row = await session.get(TemplateRow, template_id)
    if row is None:
        raise NotFound(f"{name} does not exist", reason="TEMPLATE_NOT_FOUND")
    return LoadedTemplate(row.template_id, row.category, row.version, cache.compiled(row))


def render_problem(exc: ValueError, *, prefix: str = "variables") -> InvalidArgument:
    """Return the INVALID_ARGUMENT for a value that does not render."""
    variable = getattr(exc, "variable", "")
    message = getattr(exc, "message", str(exc))
    field = f"{prefix}.{variable}" if variable and variable != "locale" else "locale"
    return InvalidArgument.of(field, message, reason="TEMPLATE_RENDER_FAILED")


async def templates_page(
    session: AsyncSession, *, tokens: PageTokens, page_token: str, size: int, query: object
) -> Page[TemplateRow]:
    """Return stored templates by id."""
    return await keyset_page(
        session,
        select(TemplateRow),
        key=col(TemplateRow.template_id),
        tokens=tokens,
        page_token=page_token,
        size=size,
        query=query,
    )
