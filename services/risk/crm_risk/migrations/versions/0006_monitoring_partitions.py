"""monitoring partitions owned by one replica at a time

Leases of monitoring partitions and the live replicas, each logged batch's position in its
partition's processing order with the owner's result, and the partition of each checkpointed
unit state. Rows logged before this revision were all applied in `seq` order, so their
position is their `seq`.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text('applied_seq IS NULL')


def upgrade() -> None:
    op.create_table(
        'risk_monitor_partition',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('owner', sa.String(length=128), nullable=False),
        sa.Column('epoch', sa.BigInteger(), nullable=False),
        sa.Column('lease_expires', sa.Float(), nullable=False),
        sa.Column('applied_through', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    op.create_table(
        'risk_monitor_member',
        sa.Column('member_id', sa.String(length=128), nullable=False),
        sa.Column('expires', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('member_id'),
    )
    with op.batch_alter_table('risk_monitor_batch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('applied_seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('accepted', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('duplicates', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('alert_count', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('warnings_json', sa.Text(), nullable=True))
    op.execute('UPDATE risk_monitor_batch SET applied_seq = seq')
    with op.batch_alter_table('risk_monitor_batch', schema=None) as batch_op:
        batch_op.create_index('ix_risk_monitor_batch_applied', ['partition', 'applied_seq'],
                              unique=True)
        batch_op.create_index('ix_risk_monitor_batch_pending', ['partition', 'seq'],
                              unique=False, postgresql_where=PENDING, sqlite_where=PENDING)
    with op.batch_alter_table('risk_monitor_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('partition', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_risk_monitor_state_partition', ['partition'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('risk_monitor_state', schema=None) as batch_op:
        batch_op.drop_index('ix_risk_monitor_state_partition')
        batch_op.drop_column('partition')
    with op.batch_alter_table('risk_monitor_batch', schema=None) as batch_op:
        batch_op.drop_index('ix_risk_monitor_batch_pending')
        batch_op.drop_index('ix_risk_monitor_batch_applied')
        for column in ('warnings_json', 'alert_count', 'duplicates', 'accepted', 'applied_seq'):
            batch_op.drop_column(column)
    op.drop_table('risk_monitor_member')
    op.drop_table('risk_monitor_partition')
