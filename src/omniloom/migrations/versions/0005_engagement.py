"""engagement: messages, outbox consumer cursors, store email addresses

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
import omniloom.platform.db

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('messages',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('customer_id', sa.String(length=40), nullable=True),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('template', sa.String(length=40), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=True),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=40), nullable=False),
    sa.Column('order_id', sa.String(length=40), nullable=True),
    sa.Column('location', sa.String(length=64), nullable=True),
    sa.Column('sales_channel', sa.String(length=64), nullable=True),
    sa.Column('created_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_attempt_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status <> 'queued' OR next_attempt_at IS NOT NULL", name=op.f('ck_messages_queued_is_scheduled')),
    sa.CheckConstraint("status IN ('queued', 'failed') OR next_attempt_at IS NULL", name=op.f('ck_messages_final_is_unscheduled')),
    sa.CheckConstraint("status IN ('queued', 'sent', 'failed', 'skipped')", name=op.f('ck_messages_status_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages')),
    sa.UniqueConstraint('event_id', 'template', name=op.f('uq_messages_event_id_template'))
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index('ix_messages_customer', ['customer_id', 'id'], unique=False)
        batch_op.create_index('ix_messages_due', ['next_attempt_at'], unique=False, sqlite_where=sa.text('next_attempt_at IS NOT NULL'), postgresql_where=sa.text('next_attempt_at IS NOT NULL'))
        batch_op.create_index('ix_messages_status', ['status', 'id'], unique=False)

    op.create_table('outbox_consumer_cursors',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_outbox_consumer_cursors'))
    )
    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.drop_column('email')

    op.drop_table('outbox_consumer_cursors')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_status')
        batch_op.drop_index('ix_messages_due', sqlite_where=sa.text('next_attempt_at IS NOT NULL'), postgresql_where=sa.text('next_attempt_at IS NOT NULL'))
        batch_op.drop_index('ix_messages_customer')

    op.drop_table('messages')
