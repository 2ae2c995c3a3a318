"""syndication: feed states and feed rows (what each channel's feed last said, for deltas)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
import omniloom.platform.db

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('feed_states',
    sa.Column('channel_code', sa.String(length=64), nullable=False),
    sa.Column('events_position', sa.BigInteger(), nullable=False),
    sa.Column('sequence', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('channel_code', name=op.f('pk_feed_states'))
    )
    op.create_table('feed_rows',
    sa.Column('channel_code', sa.String(length=64), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('digest', sa.String(length=32), nullable=False),
    sa.Column('sequence', sa.BigInteger(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('channel_code', 'sku', name=op.f('pk_feed_rows'))
    )
    with op.batch_alter_table('feed_rows', schema=None) as batch_op:
        batch_op.create_index('ix_feed_rows_channel_sequence', ['channel_code', 'sequence'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('feed_rows', schema=None) as batch_op:
        batch_op.drop_index('ix_feed_rows_channel_sequence')
    op.drop_table('feed_rows')
    op.drop_table('feed_states')
