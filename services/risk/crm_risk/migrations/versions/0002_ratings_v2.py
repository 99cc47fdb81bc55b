"""ratings v2: each rating keeps its scorecard factors (SC-2027.1)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('risk_rating', schema=None) as batch_op:
        batch_op.add_column(sa.Column('factors_json', sa.Text(), nullable=False,
                                      server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('risk_rating', schema=None) as batch_op:
        batch_op.drop_column('factors_json')
