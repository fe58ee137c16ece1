"""bigint keys: the growing tables' primary keys (and every column that points at them) become
BIGINT on PostgreSQL, their sequences too; at 17 snapshots/s x 3 channels the int4 ids of
``indicators`` would run out in about 1.3 years. SQLite's INTEGER PRIMARY KEY is already the
64-bit rowid: nothing to do there.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, has its own sequence)
COLUMNS = [
    ('batches', 'id', True),
    ('indicators', 'id', True), ('indicators', 'batch_id', False),
    ('predictions', 'id', True), ('predictions', 'batch_id', False),
    ('alarms', 'id', True), ('alarms', 'latest_prediction_id', False),
    ('alarms', 'latest_batch_id', False),
    ('alarm_batches', 'alarm_id', False), ('alarm_batches', 'batch_id', False),
    ('alarm_events', 'id', True), ('alarm_events', 'alarm_id', False),
    ('turbines', 'latest_prediction_id', False),
]


def _retype(to: type[sa.types.TypeEngine], seq_type: str) -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table, column, own_sequence in COLUMNS:
        op.alter_column(table, column, type_=to(), existing_nullable=column in (
            'latest_prediction_id', 'latest_batch_id'))
        if own_sequence:
            op.execute(f"ALTER SEQUENCE IF EXISTS {table}_{column}_seq AS {seq_type}")


def upgrade() -> None:
    _retype(sa.BigInteger, 'bigint')


def downgrade() -> None:
    # Only valid while every id still fits int4 (PostgreSQL refuses otherwise: nothing is lost).
    _retype(sa.Integer, 'integer')
