"""Tables of bulk imports: one row per import and one per committed chunk.

A chunk's row is written in the same transaction as the chunk's clients, so "chunk N is
recorded" and "chunk N's rows are stored" are one fact: a chunk re-sent after a crash finds
its record and is answered from it instead of being applied twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary
from sqlmodel import Field, SQLModel

from crm_runtime.tables import utc_column


class ImportRunRow(SQLModel, table=True):
    """An import: who runs it, how far it got and what it stored."""

    __tablename__ = "client_import"

    id: str = Field(primary_key=True, max_length=63)
    source: str = Field(default="", max_length=200)
    creator: str = Field(max_length=128)
    last_chunk_sequence: int = 0
    loaded_row_count: int = 0
    rejected_row_count: int = 0
    create_time: datetime = Field(sa_column=utc_column())
    update_time: datetime = Field(sa_column=utc_column())


class ImportChunkRow(SQLModel, table=True):
    """A committed chunk of an import, with the answer it was given (replayed on a re-send)."""

    __tablename__ = "client_import_chunk"

    import_id: str = Field(primary_key=True, foreign_key="client_import.id", max_length=63)
    chunk_sequence: int = Field(primary_key=True)
    response: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    commit_time: datetime = Field(sa_column=utc_column())


IMPORT_TABLES = ["client_import", "client_import_chunk"]
