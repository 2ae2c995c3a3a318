"""feed rows kept in their feed form: a channel's full Google feed is read from the rows its change tracking keeps
current, instead of being built again from the catalog on every export

- ``feed_rows.google_row``: the item's Google product data values (JSON), kept for the items a channel shows.
- ``feed_rows.has_errors``: the item is the channel's but left out of its feed for errors.
- ``feed_states.row_form``: the form the channel's rows are kept in (0: none yet; such a channel writes them all at
  its next catch-up).
- On PostgreSQL ``feed_rows.sku`` compares by code point (collation "C"), the order feeds are written in, so the
  primary key hands out a channel's rows already sorted.

Plain ADD/DROP COLUMN, no table rebuild.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('feed_rows', sa.Column('google_row', sa.Text(), nullable=True))
    op.add_column('feed_rows', sa.Column('has_errors', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('feed_states', sa.Column('row_form', sa.Integer(), server_default='0', nullable=False))
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('feed_rows', 'sku', type_=sa.String(length=64, collation='C'),
                        existing_type=sa.String(length=64), existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('feed_rows', 'sku', type_=sa.String(length=64), existing_type=sa.String(length=64),
                        existing_nullable=False)
    op.drop_column('feed_states', 'row_form')
    op.drop_column('feed_rows', 'has_errors')
    op.drop_column('feed_rows', 'google_row')
