"""backfill: predictions keyed by (batch, model version); the served verdict told apart by source

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SERVED = sa.text("source = 'ingest'")


def upgrade() -> None:
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=16), server_default='ingest',
                                      nullable=False))
        batch_op.drop_constraint('uq_predictions_batch_id', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_predictions_batch_id_model_version_id'),
                                          ['batch_id', 'model_version_id'])
    # Created outside the batch: SQLite's table copy would drop the partial WHERE clause.
    op.create_index('uq_predictions_served_batch', 'predictions', ['batch_id'], unique=True,
                    sqlite_where=SERVED, postgresql_where=SERVED)


def downgrade() -> None:
    # Re-scores cannot survive the old one-row-per-batch key: only the served verdicts stay.
    op.execute("DELETE FROM predictions WHERE source <> 'ingest'")
    op.drop_index('uq_predictions_served_batch', table_name='predictions')
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_predictions_batch_id_model_version_id'),
                                 type_='unique')
        batch_op.create_unique_constraint('uq_predictions_batch_id', ['batch_id'])
        batch_op.drop_column('source')
