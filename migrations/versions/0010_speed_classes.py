"""speed classes: a baseline version holds one row per class of shaft speed (``speed_bin``, -1
for snapshots without a given rpm), and a prediction says which class judged it. Existing
baselines become the "any speed" class of their version.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('sensor_baselines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('speed_bin', sa.Integer(), server_default='-1',
                                      nullable=False))
        batch_op.add_column(sa.Column('rpm_min', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('rpm_max', sa.Double(), nullable=True))
        batch_op.drop_constraint('uq_sensor_baselines_sensor_id_version', type_='unique')
        batch_op.create_unique_constraint(
            batch_op.f('uq_sensor_baselines_sensor_id_version_speed_bin'),
            ['sensor_id', 'version', 'speed_bin'])
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('baseline_rpm_min', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('baseline_rpm_max', sa.Double(), nullable=True))


def downgrade() -> None:
    # One row per version again: only the "any speed" class survives (the others have no place).
    op.execute("DELETE FROM sensor_baselines WHERE speed_bin <> -1")
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_column('baseline_rpm_max')
        batch_op.drop_column('baseline_rpm_min')
    with op.batch_alter_table('sensor_baselines', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_sensor_baselines_sensor_id_version_speed_bin'),
                                 type_='unique')
        batch_op.create_unique_constraint('uq_sensor_baselines_sensor_id_version',
                                          ['sensor_id', 'version'])
        batch_op.drop_column('rpm_max')
        batch_op.drop_column('rpm_min')
        batch_op.drop_column('speed_bin')
