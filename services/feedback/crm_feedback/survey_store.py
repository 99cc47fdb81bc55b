"""Stored survey definitions: the live row and its immutable versions."""

from __future__ import annotations

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_feedback.domain.surveys import SurveyDefinition, fingerprint
from crm_feedback.models import SurveyRow, SurveyVersionRow
from crm_feedback.survey_mapping import definition_from_json, definition_to_json
from crm_runtime.errors import NotFound
from crm_runtime.pagination import PageTokens, keyset_page


async def load_survey(
    session: AsyncSession, survey_id: str, *, version: int = 0, name: str = ""
) -> tuple[SurveyRow, SurveyDefinition]:
    """Return a live survey and one of its versions (0 = current), or NOT_FOUND."""
    row = await session.get(SurveyRow, survey_id)
    if row is None or row.deleted:
        shown = name or f"surveys/{survey_id}"
        raise NotFound(f"{shown} does not exist", reason="SURVEY_NOT_FOUND")
    stored = await session.get(SurveyVersionRow, (survey_id, version or row.version))
    if stored is None:
        raise NotFound(f"version {version} does not exist", reason="SURVEY_VERSION_NOT_FOUND")
    return row, definition_from_json(stored.definition)


def add_version(
    session: AsyncSession, row: SurveyRow, definition: SurveyDefinition, actor: str
) -> None:
    """Store `definition` as the survey's version `definition.version`, changed now."""
    session.add(
        SurveyVersionRow(
            survey_id=definition.survey_id,
            version=definition.version,
            definition=definition_to_json(definition),
            fingerprint=fingerprint(definition),
            changed_by=actor,
            change_time=row.update_time,
        )
    )


async def survey_page(
    session: AsyncSession, *, tokens: PageTokens, page_token: str, size: int
) -> tuple[list[tuple[SurveyRow, SurveyDefinition]], str]:
    """Return one page of live surveys by id, each at its current version, and the next token."""
    page = await keyset_page(
        session,
        select(SurveyRow).where(col(SurveyRow.deleted).is_(False)),
        key=col(SurveyRow.survey_id),
        tokens=tokens,
        page_token=page_token,
        size=size,
        query={"m": "ListSurveys"},
    )
    rows: list[SurveyRow] = page.rows
    if not rows:
        return [], ""
    statement = select(SurveyVersionRow).where(
        tuple_(col(SurveyVersionRow.survey_id), col(SurveyVersionRow.version)).in_(
            [(row.survey_id, row.version) for row in rows]
        )
    )
    current = {v.survey_id: v for v in (await session.execute(statement)).scalars()}
    surveys = [(row, definition_from_json(current[row.survey_id].definition)) for row in rows]
    return surveys, page.next_page_token
