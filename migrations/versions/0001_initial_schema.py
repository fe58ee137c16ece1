"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON text on SQLite (service.db.JSONType).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('model_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('architecture', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('artifact_path', sa.String(length=512), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('classes', JSON, nullable=False),
    sa.Column('input_spec', JSON, nullable=False),
    sa.Column('metrics', JSON, nullable=False),
    sa.Column('training_data', JSON, nullable=False),
    sa.Column('promoted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('promoted_by', sa.String(length=128), nullable=True),
    sa.Column('promotion_reason', sa.String(length=512), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_versions')),
    sa.UniqueConstraint('sha256', name=op.f('uq_model_versions_sha256'))
    )
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_model_versions_status'), ['status'], unique=False)

    op.create_table('turbines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('site', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('latest_prediction_id', sa.Integer(), nullable=True),
    sa.Column('last_recorded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_received_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_turbines')),
    sa.UniqueConstraint('name', name=op.f('uq_turbines_name'))
    )
    with op.batch_alter_table('turbines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_turbines_latest_prediction_id'), ['latest_prediction_id'], unique=False)
        batch_op.create_index('ix_turbines_site_name', ['site', 'name'], unique=False)

    op.create_table('sensors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('turbine_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('component', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['turbine_id'], ['turbines.id'], name=op.f('fk_sensors_turbine_id_turbines'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sensors')),
    sa.UniqueConstraint('turbine_id', 'name', name=op.f('uq_sensors_turbine_id_name'))
    )
    op.create_table('batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('turbine_id', sa.Integer(), nullable=False),
    sa.Column('sensor_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sample_rate_hz', sa.Double(), nullable=False),
    sa.Column('n_channels', sa.Integer(), nullable=False),
    sa.Column('n_samples', sa.Integer(), nullable=False),
    sa.Column('channel_names', JSON, nullable=False),
    sa.Column('rpm', sa.Double(), nullable=True),
    sa.Column('unit', sa.String(length=8), nullable=False),
    sa.Column('content_type', sa.String(length=64), nullable=False),
    sa.Column('raw_uri', sa.String(length=512), nullable=False),
    sa.Column('raw_sha256', sa.String(length=64), nullable=False),
    sa.Column('raw_bytes', sa.Integer(), nullable=False),
    sa.Column('body_sha256', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=True),
    sa.Column('label', sa.String(length=32), nullable=True),
    sa.Column('label_source', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['sensor_id'], ['sensors.id'], name=op.f('fk_batches_sensor_id_sensors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['turbine_id'], ['turbines.id'], name=op.f('fk_batches_turbine_id_turbines'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_batches')),
    sa.UniqueConstraint('turbine_id', 'idempotency_key', name=op.f('uq_batches_turbine_id_idempotency_key'))
    )
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.create_index('ix_batches_sensor_recorded', ['sensor_id', 'recorded_at'], unique=False)
        batch_op.create_index('ix_batches_turbine_recorded', ['turbine_id', 'recorded_at'], unique=False)

    op.create_table('indicators',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('rms_accel_m_s2', sa.Double(), nullable=False),
    sa.Column('rms_velocity_mm_s', sa.Double(), nullable=False),
    sa.Column('peak_accel_m_s2', sa.Double(), nullable=False),
    sa.Column('crest_factor', sa.Double(), nullable=False),
    sa.Column('kurtosis', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_indicators_batch_id_batches'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicators')),
    sa.UniqueConstraint('batch_id', 'channel', name=op.f('uq_indicators_batch_id_channel'))
    )
    op.create_table('predictions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('turbine_id', sa.Integer(), nullable=False),
    sa.Column('sensor_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('model_version_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=32), nullable=False),
    sa.Column('score', sa.Double(), nullable=False),
    sa.Column('probabilities', JSON, nullable=False),
    sa.Column('per_channel', JSON, nullable=False),
    sa.Column('n_windows', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_predictions_batch_id_batches'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['model_version_id'], ['model_versions.id'], name=op.f('fk_predictions_model_version_id_model_versions')),
    sa.ForeignKeyConstraint(['sensor_id'], ['sensors.id'], name=op.f('fk_predictions_sensor_id_sensors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['turbine_id'], ['turbines.id'], name=op.f('fk_predictions_turbine_id_turbines'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_predictions')),
    sa.UniqueConstraint('batch_id', name=op.f('uq_predictions_batch_id'))
    )
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_predictions_model_version_id'), ['model_version_id'], unique=False)
        batch_op.create_index('ix_predictions_sensor_recorded', ['sensor_id', 'recorded_at'], unique=False)
        batch_op.create_index('ix_predictions_turbine_recorded', ['turbine_id', 'recorded_at', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_index('ix_predictions_turbine_recorded')
        batch_op.drop_index('ix_predictions_sensor_recorded')
        batch_op.drop_index(batch_op.f('ix_predictions_model_version_id'))

    op.drop_table('predictions')
    op.drop_table('indicators')
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.drop_index('ix_batches_turbine_recorded')
        batch_op.drop_index('ix_batches_sensor_recorded')

    op.drop_table('batches')
    op.drop_table('sensors')
    with op.batch_alter_table('turbines', schema=None) as batch_op:
        batch_op.drop_index('ix_turbines_site_name')
        batch_op.drop_index(batch_op.f('ix_turbines_latest_prediction_id'))

    op.drop_table('turbines')
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_versions_status'))

    op.drop_table('model_versions')
