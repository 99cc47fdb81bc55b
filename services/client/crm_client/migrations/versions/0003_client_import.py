"""client import: imports and their committed chunks (resume without loading a row twice)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 17:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('client_import',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('creator', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('last_chunk_sequence', sa.Integer(), nullable=False),
    sa.Column('loaded_row_count', sa.Integer(), nullable=False),
    sa.Column('rejected_row_count', sa.Integer(), nullable=False),
    sa.Column('create_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('update_time', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('client_import_chunk',
    sa.Column('import_id', sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
    sa.Column('chunk_sequence', sa.Integer(), nullable=False),
    sa.Column('response', sa.LargeBinary(), nullable=False),
    sa.Column('commit_time', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['client_import.id'], ),
    sa.PrimaryKeyConstraint('import_id', 'chunk_sequence')
    )


def downgrade() -> None:
    op.drop_table('client_import_chunk')
    op.drop_table('client_import')
