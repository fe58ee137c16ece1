"""components: per-sensor bearing and gear geometry (sensor_geometries)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON text on SQLite (service.db.JSONType).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sensor_geometries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sensor_id', sa.Integer(), nullable=False),
    sa.Column('bearing_designation', sa.String(length=64), nullable=True),
    sa.Column('n_elements', sa.Integer(), nullable=False),
    sa.Column('element_diameter_mm', sa.Double(), nullable=False),
    sa.Column('pitch_diameter_mm', sa.Double(), nullable=False),
    sa.Column('contact_angle_deg', sa.Double(), nullable=False),
    sa.Column('gears', JSON, nullable=False),
    sa.Column('planetary', JSON, nullable=True),
    sa.Column('shaft_speed_ratio', sa.Double(), nullable=False),
    sa.Column('rpm_min', sa.Double(), nullable=True),
    sa.Column('rpm_max', sa.Double(), nullable=True),
    sa.Column('notes', sa.String(length=512), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['sensor_id'], ['sensors.id'],
        name=op.f('fk_sensor_geometries_sensor_id_sensors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sensor_geometries')),
    sa.UniqueConstraint('sensor_id', name=op.f('uq_sensor_geometries_sensor_id'))
    )


def downgrade() -> None:
    op.drop_table('sensor_geometries')
