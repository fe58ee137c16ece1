"""alarms: alarms, the batches that raised them (alarm_batches), and their audit trail
(alarm_events)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON text on SQLite (service.db.JSONType).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('alarms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('turbine_id', sa.Integer(), nullable=False),
    sa.Column('sensor_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('component', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=True),
    sa.Column('threshold', sa.Double(), nullable=False),
    sa.Column('peak_probability', sa.Double(), nullable=True),
    sa.Column('peak_value', sa.Double(), nullable=True),
    sa.Column('zone', sa.String(length=4), nullable=True),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('details', JSON, nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('latest_prediction_id', sa.Integer(), nullable=True),
    sa.Column('latest_batch_id', sa.Integer(), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=128), nullable=True),
    sa.Column('ack_comment', sa.String(length=1024), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.String(length=128), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('fault_type', sa.String(length=32), nullable=True),
    sa.Column('close_comment', sa.String(length=1024), nullable=True),
    sa.ForeignKeyConstraint(['latest_batch_id'], ['batches.id'],
        name=op.f('fk_alarms_latest_batch_id_batches'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['latest_prediction_id'], ['predictions.id'],
        name=op.f('fk_alarms_latest_prediction_id_predictions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sensor_id'], ['sensors.id'],
        name=op.f('fk_alarms_sensor_id_sensors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['turbine_id'], ['turbines.id'],
        name=op.f('fk_alarms_turbine_id_turbines'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alarms')),
    sa.UniqueConstraint('turbine_id', 'sensor_id', 'kind', 'code', 'active',
        name=op.f('uq_alarms_turbine_id_sensor_id_kind_code_active'))
    )
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.create_index('ix_alarms_state_opened', ['state', 'opened_at'], unique=False)
        batch_op.create_index('ix_alarms_turbine_opened', ['turbine_id', 'opened_at'], unique=False)

    op.create_table('alarm_batches',
    sa.Column('alarm_id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['alarm_id'], ['alarms.id'],
        name=op.f('fk_alarm_batches_alarm_id_alarms'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'],
        name=op.f('fk_alarm_batches_batch_id_batches'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('alarm_id', 'batch_id', name=op.f('pk_alarm_batches'))
    )
    with op.batch_alter_table('alarm_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alarm_batches_batch_id'), ['batch_id'], unique=False)

    op.create_table('alarm_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alarm_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=True),
    sa.Column('to_state', sa.String(length=16), nullable=False),
    sa.Column('details', JSON, nullable=False),
    sa.ForeignKeyConstraint(['alarm_id'], ['alarms.id'],
        name=op.f('fk_alarm_events_alarm_id_alarms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alarm_events'))
    )
    with op.batch_alter_table('alarm_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alarm_events_alarm_id'), ['alarm_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('alarm_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alarm_events_alarm_id'))

    op.drop_table('alarm_events')
    with op.batch_alter_table('alarm_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alarm_batches_batch_id'))

    op.drop_table('alarm_batches')
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.drop_index('ix_alarms_turbine_opened')
        batch_op.drop_index('ix_alarms_state_opened')

    op.drop_table('alarms')
