"""baselines: per-sensor healthy baselines (sensor_baselines) and detection on predictions

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON text on SQLite (service.db.JSONType).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DETECTION_COLUMNS = ('features', 'anomaly_score', 'anomaly_threshold', 'baseline_version',
                     'baseline_state', 'baseline_n_seen', 'baseline_n_required')


def upgrade() -> None:
    op.create_table('sensor_baselines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sensor_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('n_required', sa.Integer(), nullable=False),
    sa.Column('samples', JSON, nullable=False),
    sa.Column('feature_names', JSON, nullable=True),
    sa.Column('median', JSON, nullable=True),
    sa.Column('scale', JSON, nullable=True),
    sa.Column('n_fitted', sa.Integer(), nullable=True),
    sa.Column('fs_hz', sa.Double(), nullable=True),
    sa.Column('threshold', sa.Double(), nullable=False),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('fitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reset_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['sensor_id'], ['sensors.id'],
        name=op.f('fk_sensor_baselines_sensor_id_sensors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sensor_baselines')),
    sa.UniqueConstraint('sensor_id', 'version', name=op.f('uq_sensor_baselines_sensor_id_version'))
    )
    with op.batch_alter_table('predictions') as batch:
        batch.add_column(sa.Column('features', JSON, nullable=True))
        batch.add_column(sa.Column('anomaly_score', sa.Double(), nullable=True))
        batch.add_column(sa.Column('anomaly_threshold', sa.Double(), nullable=True))
        batch.add_column(sa.Column('baseline_version', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('baseline_state', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('baseline_n_seen', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('baseline_n_required', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('predictions') as batch:
        for name in DETECTION_COLUMNS:
            batch.drop_column(name)
    op.drop_table('sensor_baselines')
