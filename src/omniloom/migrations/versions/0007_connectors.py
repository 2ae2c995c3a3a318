"""connectors: each channel's connector, what it last sent, and its dead letters

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
import omniloom.platform.db

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('channel_connectors',
    sa.Column('channel_code', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=10), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('settings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('interval_seconds', sa.Integer(), nullable=False),
    sa.Column('give_up_after_seconds', sa.Integer(), nullable=False),
    sa.Column('feed_cursor', sa.String(length=500), nullable=True),
    sa.Column('event_position', sa.BigInteger(), nullable=False),
    sa.Column('lease_until', omniloom.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('next_sync_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_sync_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('failing_since', omniloom.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("type IN ('file', 'http')", name=op.f('ck_channel_connectors_type_known')),
    sa.PrimaryKeyConstraint('channel_code', name=op.f('pk_channel_connectors'))
    )
    op.create_table('connector_listings',
    sa.Column('channel_code', sa.String(length=64), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('pushed_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('channel_code', 'sku', name=op.f('pk_connector_listings'))
    )
    op.create_table('connector_dead_letters',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('channel_code', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('reason', sa.String(length=1000), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_attempt_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('listing', 'order', 'acknowledgement', 'tracking', 'cancellation')", name=op.f('ck_connector_dead_letters_kind_known')),
    sa.CheckConstraint("status IN ('dead', 'resolved')", name=op.f('ck_connector_dead_letters_status_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_connector_dead_letters'))
    )
    with op.batch_alter_table('connector_dead_letters', schema=None) as batch_op:
        batch_op.create_index('ix_connector_dead_letters_channel', ['channel_code', 'status', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('connector_dead_letters', schema=None) as batch_op:
        batch_op.drop_index('ix_connector_dead_letters_channel')

    op.drop_table('connector_dead_letters')
    op.drop_table('connector_listings')
    op.drop_table('channel_connectors')
