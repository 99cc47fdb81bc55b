"""playbooks that act and project finance against progress

Playbook actions (limit freezes, refused drawdowns, required visits) with their steps, and a
project facility's budget, planned drawdown curve and verified progress. New tables only.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(20, 2)
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'risk_playbook_action',
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('client_id', sa.String(length=64), nullable=False),
        sa.Column('warning_id', sa.String(length=36), nullable=False),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('level', sa.String(length=8), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('facility_id', sa.String(length=36), nullable=False),
        sa.Column('amount', MONEY, nullable=True),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('actor', sa.String(length=128), nullable=False),
        sa.Column('lift_requested_by', sa.String(length=128), nullable=False),
        sa.Column('lift_reason', sa.Text(), nullable=False),
        sa.Column('lift_approved_by', sa.String(length=128), nullable=False),
        sa.Column('due_time', UTC_TIME, nullable=True),
        sa.Column('done_by', sa.String(length=200), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('create_time', UTC_TIME, nullable=False),
        sa.Column('update_time', UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint('seq'),
        sa.UniqueConstraint('id'),
    )
    op.create_index('ix_risk_playbook_action_client_kind', 'risk_playbook_action',
                    ['client_id', 'kind', 'state'], unique=False)
    op.create_table(
        'risk_playbook_step',
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('action_seq', sa.Integer(), nullable=False),
        sa.Column('step', sa.String(length=24), nullable=False),
        sa.Column('from_state', sa.String(length=16), nullable=False),
        sa.Column('to_state', sa.String(length=16), nullable=False),
        sa.Column('actor', sa.String(length=128), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('step_time', UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(['action_seq'], ['risk_playbook_action.seq']),
        sa.PrimaryKeyConstraint('seq'),
    )
    op.create_index('ix_risk_playbook_step_action_seq', 'risk_playbook_step', ['action_seq'],
                    unique=False)
    op.create_table(
        'risk_project_plan',
        sa.Column('facility_seq', sa.Integer(), nullable=False),
        sa.Column('budget', MONEY, nullable=False),
        sa.Column('curve_json', sa.Text(), nullable=False),
        sa.Column('margin_points', sa.Float(), nullable=False),
        sa.Column('updated_by', sa.String(length=128), nullable=False),
        sa.Column('update_time', UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(['facility_seq'], ['risk_facility.seq']),
        sa.PrimaryKeyConstraint('facility_seq'),
    )
    op.create_table(
        'risk_project_progress',
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('facility_seq', sa.Integer(), nullable=False),
        sa.Column('percent', sa.Float(), nullable=False),
        sa.Column('as_of', sa.Date(), nullable=False),
        sa.Column('milestone', sa.String(length=120), nullable=False),
        sa.Column('source', sa.String(length=200), nullable=False),
        sa.Column('recorded_by', sa.String(length=128), nullable=False),
        sa.Column('record_time', UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(['facility_seq'], ['risk_facility.seq']),
        sa.PrimaryKeyConstraint('seq'),
    )
    op.create_index('ix_risk_project_progress_facility_seq', 'risk_project_progress',
                    ['facility_seq'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_risk_project_progress_facility_seq', table_name='risk_project_progress')
    op.drop_table('risk_project_progress')
    op.drop_table('risk_project_plan')
    op.drop_index('ix_risk_playbook_step_action_seq', table_name='risk_playbook_step')
    op.drop_table('risk_playbook_step')
    op.drop_index('ix_risk_playbook_action_client_kind', table_name='risk_playbook_action')
    op.drop_table('risk_playbook_action')
