"""webhooks: subscriptions, deliveries, and the cursors of the webhook and NATS relays

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
import omniloom.platform.db

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    relay_cursors = op.create_table('relay_cursors',
    sa.Column('name', sa.String(length=20), nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_relay_cursors'))
    )
    op.bulk_insert(relay_cursors, [{'name': 'webhooks', 'position': 0}, {'name': 'nats', 'position': 0}])
    op.create_table('webhook_subscriptions',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('events', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('secret', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_subscriptions'))
    )
    op.create_table('webhook_deliveries',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('subscription_id', sa.String(length=40), nullable=False),
    sa.Column('event_id', sa.String(length=40), nullable=False),
    sa.Column('event_type', sa.String(length=80), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('retrying_since', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_attempt_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('delivered_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status <> 'pending' OR next_attempt_at IS NOT NULL", name=op.f('ck_webhook_deliveries_pending_is_scheduled')),
    sa.CheckConstraint("status IN ('pending', 'delivered', 'dead')", name=op.f('ck_webhook_deliveries_status_known')),
    sa.ForeignKeyConstraint(['subscription_id'], ['webhook_subscriptions.id'], name=op.f('fk_webhook_deliveries_subscription_id_webhook_subscriptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
    sa.UniqueConstraint('subscription_id', 'event_id', name=op.f('uq_webhook_deliveries_subscription_id_event_id'))
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_due', ['next_attempt_at'], unique=False, sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
        batch_op.create_index('ix_webhook_deliveries_subscription', ['subscription_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_deliveries_subscription')
        batch_op.drop_index('ix_webhook_deliveries_due', sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))

    op.drop_table('webhook_deliveries')
    op.drop_table('webhook_subscriptions')
    op.drop_table('relay_cursors')
