"""orders: carts, orders, payments, checkout attempts, returns; fulfillments

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
import omniloom.platform.db

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('carts',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=40), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('merged_into', sa.String(length=40), nullable=True),
    sa.Column('fulfillment', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_carts'))
    )
    with op.batch_alter_table('carts', schema=None) as batch_op:
        batch_op.create_index('uq_carts_active_customer', ['customer_id'], unique=True, sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))

    op.create_table('checkout_attempts',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('reservation_id', sa.String(length=40), nullable=False),
    sa.Column('provider', sa.String(length=40), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('order_id', sa.String(length=40), nullable=True),
    sa.Column('created_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('settled_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkout_attempts'))
    )
    with op.batch_alter_table('checkout_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkout_attempts_status'), ['status'], unique=False)

    op.create_table('fulfillments',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('order_id', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('location', sa.String(length=64), nullable=False),
    sa.Column('source_location', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('routing_reason', sa.String(length=500), nullable=False),
    sa.Column('destination', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('carrier', sa.String(length=80), nullable=True),
    sa.Column('tracking_number', sa.String(length=120), nullable=True),
    sa.Column('parking_spot', sa.String(length=40), nullable=True),
    sa.Column('checked_in_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('promised_ready_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ready_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('pickup_expires_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rejected_locations', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fulfillments'))
    )
    with op.batch_alter_table('fulfillments', schema=None) as batch_op:
        batch_op.create_index('ix_fulfillments_location_status', ['location', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_fulfillments_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fulfillments_pickup_expires_at'), ['pickup_expires_at'], unique=False)

    op.create_table('orders',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('external_id', sa.String(length=120), nullable=True),
    sa.Column('cart_id', sa.String(length=40), nullable=True),
    sa.Column('customer_id', sa.String(length=40), nullable=True),
    sa.Column('contact', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('hold_reason', sa.String(length=500), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('subtotal', sa.Integer(), nullable=False),
    sa.Column('shipping', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('fulfillment_request', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('raw_lines', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('channel', 'external_id', name=op.f('uq_orders_channel_external_id'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orders_channel'), ['channel'], unique=False)
        batch_op.create_index('ix_orders_customer_created', ['customer_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_status'), ['status'], unique=False)

    op.create_table('test_provider_charges',
    sa.Column('reference', sa.String(length=120), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('captured', sa.Integer(), nullable=False),
    sa.Column('refunded', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('reference', name=op.f('pk_test_provider_charges'))
    )
    op.create_table('cart_lines',
    sa.Column('cart_id', sa.String(length=40), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('added_on', sa.String(length=64), nullable=False),
    sa.Column('added_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_cart_lines_quantity_positive')),
    sa.ForeignKeyConstraint(['cart_id'], ['carts.id'], name=op.f('fk_cart_lines_cart_id_carts')),
    sa.PrimaryKeyConstraint('cart_id', 'sku', name=op.f('pk_cart_lines'))
    )
    op.create_table('fulfillment_lines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('fulfillment_id', sa.String(length=40), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_fulfillment_lines_quantity_positive')),
    sa.ForeignKeyConstraint(['fulfillment_id'], ['fulfillments.id'], name=op.f('fk_fulfillment_lines_fulfillment_id_fulfillments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fulfillment_lines'))
    )
    with op.batch_alter_table('fulfillment_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fulfillment_lines_fulfillment_id'), ['fulfillment_id'], unique=False)

    op.create_table('order_lines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('order_id', sa.String(length=40), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('listing_id', sa.String(length=120), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price', sa.Integer(), nullable=False),
    sa.Column('returned', sa.Integer(), nullable=False),
    sa.Column('cancelled', sa.Integer(), nullable=False),
    sa.CheckConstraint('cancelled <= quantity', name=op.f('ck_order_lines_not_over_cancelled')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_order_lines_quantity_positive')),
    sa.CheckConstraint('returned <= quantity', name=op.f('ck_order_lines_not_over_returned')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_lines_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_lines'))
    )
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_lines_order_id'), ['order_id'], unique=False)

    op.create_table('payments',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('order_id', sa.String(length=40), nullable=False),
    sa.Column('provider', sa.String(length=40), nullable=False),
    sa.Column('provider_reference', sa.String(length=120), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('captured', sa.Integer(), nullable=False),
    sa.Column('refunded', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('created_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('captured <= amount', name=op.f('ck_payments_capture_within_amount')),
    sa.CheckConstraint('refunded <= captured', name=op.f('ck_payments_refund_within_captured')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_payments_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_order_id'), ['order_id'], unique=False)

    op.create_table('returns',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('order_id', sa.String(length=40), nullable=False),
    sa.Column('location', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('refund_amount', sa.Integer(), nullable=False),
    sa.Column('refund_status', sa.String(length=20), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('exchange_order_id', sa.String(length=40), nullable=True),
    sa.Column('created_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_returns_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_returns'))
    )
    with op.batch_alter_table('returns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_returns_order_id'), ['order_id'], unique=False)

    op.create_table('return_lines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('return_id', sa.String(length=40), nullable=False),
    sa.Column('order_line_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('condition', sa.String(length=20), nullable=False),
    sa.Column('refund_amount', sa.Integer(), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_return_lines_quantity_positive')),
    sa.ForeignKeyConstraint(['order_line_id'], ['order_lines.id'], name=op.f('fk_return_lines_order_line_id_order_lines')),
    sa.ForeignKeyConstraint(['return_id'], ['returns.id'], name=op.f('fk_return_lines_return_id_returns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_return_lines'))
    )
    with op.batch_alter_table('return_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_return_lines_return_id'), ['return_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('return_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_return_lines_return_id'))

    op.drop_table('return_lines')
    with op.batch_alter_table('returns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_returns_order_id'))

    op.drop_table('returns')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_order_id'))

    op.drop_table('payments')
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_lines_order_id'))

    op.drop_table('order_lines')
    with op.batch_alter_table('fulfillment_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fulfillment_lines_fulfillment_id'))

    op.drop_table('fulfillment_lines')
    op.drop_table('cart_lines')
    op.drop_table('test_provider_charges')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_status'))
        batch_op.drop_index('ix_orders_customer_created')
        batch_op.drop_index(batch_op.f('ix_orders_channel'))

    op.drop_table('orders')
    with op.batch_alter_table('fulfillments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fulfillments_pickup_expires_at'))
        batch_op.drop_index(batch_op.f('ix_fulfillments_order_id'))
        batch_op.drop_index('ix_fulfillments_location_status')

    op.drop_table('fulfillments')
    with op.batch_alter_table('checkout_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checkout_attempts_status'))

    op.drop_table('checkout_attempts')
    with op.batch_alter_table('carts', schema=None) as batch_op:
        batch_op.drop_index('uq_carts_active_customer', sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))

    op.drop_table('carts')
