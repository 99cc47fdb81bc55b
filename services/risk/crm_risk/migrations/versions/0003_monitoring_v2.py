"""monitoring v2: fund tracing by unit, facility loan accounts, profile groups, exposure totals

Monitoring state is kept per tracing unit (a client or its group) in a new format; states of
the old format cannot be read, so the table is recreated and the log replays them. Facilities
gain their loan account and declared purpose, profiles the group they are traced with, and the
book's exposure per concentration key is kept in a table so a new facility's limits are checked
without reading the whole book (filled from the facilities already registered).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(20, 2)


def upgrade() -> None:
    op.drop_table('risk_monitor_state')
    op.create_table(
        'risk_monitor_state',
        sa.Column('unit_id', sa.String(length=160), nullable=False),
        sa.Column('state', sa.LargeBinary(), nullable=False),
        sa.Column('through_seq', sa.BigInteger(), nullable=False),
        sa.Column('ruleset_label', sa.String(length=64), nullable=False),
        sa.Column('update_time', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('unit_id'),
    )
    with op.batch_alter_table('risk_monitor_batch', schema=None) as batch_op:
        batch_op.create_index('ix_risk_monitor_batch_receive_time', ['receive_time'],
                              unique=False)
    with op.batch_alter_table('risk_facility', schema=None) as batch_op:
        batch_op.add_column(sa.Column('loan_account', sa.String(length=64), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('declared_purpose', sa.Text(), nullable=False,
                                      server_default=''))
        batch_op.create_index('ix_risk_facility_loan_account', ['loan_account'], unique=False)
    with op.batch_alter_table('risk_monitoring_profile', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group_name', sa.String(length=128), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('registered_name', sa.String(length=200),
                                      nullable=False, server_default=''))
        batch_op.create_index('ix_risk_monitoring_profile_group_name', ['group_name'],
                              unique=False)
    op.create_table(
        'risk_exposure_total',
        sa.Column('dimension', sa.String(length=16), nullable=False),
        sa.Column('key', sa.String(length=128), nullable=False),
        sa.Column('amount_cny', MONEY, nullable=False),
        sa.PrimaryKeyConstraint('dimension', 'key'),
    )
    _fill_exposure_totals()


def _fill_exposure_totals() -> None:
    """Sum the facilities already registered into the new totals table."""
    facility = sa.table('risk_facility', sa.column('client_id', sa.String),
                        sa.column('amount_cny', MONEY))
    client = sa.table('risk_client', sa.column('client_id', sa.String),
                      sa.column('group_name', sa.String), sa.column('industry_code', sa.String),
                      sa.column('region_code', sa.String))
    rows = op.get_bind().execute(
        sa.select(facility.c.client_id, sa.func.sum(facility.c.amount_cny), client.c.group_name,
                  client.c.industry_code, client.c.region_code)
        .select_from(facility.outerjoin(client, client.c.client_id == facility.c.client_id))
        .group_by(facility.c.client_id, client.c.group_name, client.c.industry_code,
                  client.c.region_code)
    ).all()
    totals: dict[tuple[str, str], object] = {}
    for client_id, amount, group, industry, region in rows:
        keys = [('book', ''), ('client', client_id), ('group', group or ''),
                ('industry', (industry or '')[:1].upper()),
                ('region', (region or '')[:2] if len(region or '') >= 2 else '')]
        for dimension, key in keys:
            if key or dimension == 'book':
                totals[(dimension, key)] = totals.get((dimension, key), 0) + amount
    if totals:
        op.bulk_insert(
            sa.table('risk_exposure_total', sa.column('dimension', sa.String),
                     sa.column('key', sa.String), sa.column('amount_cny', MONEY)),
            [{'dimension': d, 'key': k, 'amount_cny': a} for (d, k), a in totals.items()],
        )


def downgrade() -> None:
    op.drop_table('risk_exposure_total')
    with op.batch_alter_table('risk_monitoring_profile', schema=None) as batch_op:
        batch_op.drop_index('ix_risk_monitoring_profile_group_name')
        batch_op.drop_column('registered_name')
        batch_op.drop_column('group_name')
    with op.batch_alter_table('risk_facility', schema=None) as batch_op:
        batch_op.drop_index('ix_risk_facility_loan_account')
        batch_op.drop_column('declared_purpose')
        batch_op.drop_column('loan_account')
    with op.batch_alter_table('risk_monitor_batch', schema=None) as batch_op:
        batch_op.drop_index('ix_risk_monitor_batch_receive_time')
    op.drop_table('risk_monitor_state')
    op.create_table(
        'risk_monitor_state',
        sa.Column('client_id', sa.String(length=64), nullable=False),
        sa.Column('state', sa.LargeBinary(), nullable=False),
        sa.Column('through_seq', sa.BigInteger(), nullable=False),
        sa.Column('ruleset_label', sa.String(length=64), nullable=False),
        sa.Column('update_time', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('client_id'),
    )
