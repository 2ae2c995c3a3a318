"""customers: profiles, identity graph, events, purchases, merges, consent, loyalty, lifetime value

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
import omniloom.platform.db

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('clv_models',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('calibration_end', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('time_unit', sa.String(length=10), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('horizon', sa.Integer(), nullable=False),
    sa.Column('bgnbd', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('gamma_gamma', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('rfm_boundaries', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('customers', sa.Integer(), nullable=False),
    sa.Column('repeat_customers', sa.Integer(), nullable=False),
    sa.Column('fitted_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clv_models'))
    )
    with op.batch_alter_table('clv_models', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clv_models_fitted_at'), ['fitted_at'], unique=False)

    op.create_table('customer_profiles',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('merged_into', sa.String(length=40), nullable=True),
    sa.Column('attributes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('erased_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['merged_into'], ['customer_profiles.id'], name=op.f('fk_customer_profiles_merged_into_customer_profiles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_profiles'))
    )
    with op.batch_alter_table('customer_profiles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_profiles_merged_into'), ['merged_into'], unique=False)

    op.create_table('customer_separations',
    sa.Column('profile_id', sa.String(length=40), nullable=False),
    sa.Column('other_profile_id', sa.String(length=40), nullable=False),
    sa.Column('created_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('profile_id', 'other_profile_id', name=op.f('pk_customer_separations'))
    )
    op.create_table('loyalty_programs',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('points_per_unit', sa.Integer(), nullable=False),
    sa.Column('channel_multipliers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('tiers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('tier_window_days', sa.Integer(), nullable=False),
    sa.Column('updated_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_loyalty_programs'))
    )
    op.create_table('customer_consents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('profile_id', sa.String(length=40), nullable=False),
    sa.Column('origin_profile_id', sa.String(length=40), nullable=False),
    sa.Column('purpose', sa.String(length=40), nullable=False),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('recorded_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['profile_id'], ['customer_profiles.id'], name=op.f('fk_customer_consents_profile_id_customer_profiles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_consents'))
    )
    with op.batch_alter_table('customer_consents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_consents_origin_profile_id'), ['origin_profile_id'], unique=False)
        batch_op.create_index('ix_customer_consents_profile_purpose', ['profile_id', 'purpose'], unique=False)

    op.create_table('customer_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=80), nullable=False),
    sa.Column('profile_id', sa.String(length=40), nullable=False),
    sa.Column('origin_profile_id', sa.String(length=40), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('occurred_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('identifiers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('properties', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['profile_id'], ['customer_profiles.id'], name=op.f('fk_customer_events_profile_id_customer_profiles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_events')),
    sa.UniqueConstraint('event_id', name=op.f('uq_customer_events_event_id'))
    )
    with op.batch_alter_table('customer_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_events_origin_profile_id'), ['origin_profile_id'], unique=False)
        batch_op.create_index('ix_customer_events_profile_time', ['profile_id', 'occurred_at'], unique=False)

    op.create_table('customer_identifiers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('value', sa.String(length=320), nullable=False),
    sa.Column('profile_id', sa.String(length=40), nullable=False),
    sa.Column('origin_profile_id', sa.String(length=40), nullable=False),
    sa.Column('verified', sa.Boolean(), nullable=False),
    sa.Column('shared', sa.Boolean(), nullable=False),
    sa.Column('first_seen_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['profile_id'], ['customer_profiles.id'], name=op.f('fk_customer_identifiers_profile_id_customer_profiles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_identifiers')),
    sa.UniqueConstraint('kind', 'value', name=op.f('uq_customer_identifiers_kind_value'))
    )
    with op.batch_alter_table('customer_identifiers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_identifiers_origin_profile_id'), ['origin_profile_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_identifiers_profile_id'), ['profile_id'], unique=False)

    op.create_table('customer_merges',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('survivor_id', sa.String(length=40), nullable=False),
    sa.Column('merged_id', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('cause', sa.String(length=400), nullable=False),
    sa.Column('identifiers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('members', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('event_id', sa.String(length=80), nullable=True),
    sa.Column('created_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('undone_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['merged_id'], ['customer_profiles.id'], name=op.f('fk_customer_merges_merged_id_customer_profiles')),
    sa.ForeignKeyConstraint(['survivor_id'], ['customer_profiles.id'], name=op.f('fk_customer_merges_survivor_id_customer_profiles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_merges'))
    )
    with op.batch_alter_table('customer_merges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_merges_merged_id'), ['merged_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_merges_survivor_id'), ['survivor_id'], unique=False)

    op.create_table('customer_purchases',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('profile_id', sa.String(length=40), nullable=False),
    sa.Column('origin_profile_id', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=120), nullable=False),
    sa.Column('event_id', sa.String(length=80), nullable=False),
    sa.Column('occurred_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('items', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['profile_id'], ['customer_profiles.id'], name=op.f('fk_customer_purchases_profile_id_customer_profiles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_purchases')),
    sa.UniqueConstraint('channel', 'order_id', name=op.f('uq_customer_purchases_channel_order_id'))
    )
    with op.batch_alter_table('customer_purchases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_purchases_origin_profile_id'), ['origin_profile_id'], unique=False)
        batch_op.create_index('ix_customer_purchases_profile_time', ['profile_id', 'occurred_at'], unique=False)

    op.create_table('loyalty_accounts',
    sa.Column('profile_id', sa.String(length=40), nullable=False),
    sa.Column('balance', sa.Integer(), nullable=False),
    sa.Column('updated_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['profile_id'], ['customer_profiles.id'], name=op.f('fk_loyalty_accounts_profile_id_customer_profiles')),
    sa.PrimaryKeyConstraint('profile_id', name=op.f('pk_loyalty_accounts'))
    )
    op.create_table('loyalty_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('profile_id', sa.String(length=40), nullable=False),
    sa.Column('origin_profile_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('reference', sa.String(length=160), nullable=False),
    sa.Column('spend_amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('occurred_at', omniloom.platform.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['profile_id'], ['customer_profiles.id'], name=op.f('fk_loyalty_entries_profile_id_customer_profiles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_entries')),
    sa.UniqueConstraint('kind', 'reference', name=op.f('uq_loyalty_entries_kind_reference'))
    )
    with op.batch_alter_table('loyalty_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loyalty_entries_origin_profile_id'), ['origin_profile_id'], unique=False)
        batch_op.create_index('ix_loyalty_entries_profile_time', ['profile_id', 'occurred_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('loyalty_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_loyalty_entries_profile_time')
        batch_op.drop_index(batch_op.f('ix_loyalty_entries_origin_profile_id'))

    op.drop_table('loyalty_entries')
    op.drop_table('loyalty_accounts')
    with op.batch_alter_table('customer_purchases', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_purchases_profile_time')
        batch_op.drop_index(batch_op.f('ix_customer_purchases_origin_profile_id'))

    op.drop_table('customer_purchases')
    with op.batch_alter_table('customer_merges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_merges_survivor_id'))
        batch_op.drop_index(batch_op.f('ix_customer_merges_merged_id'))

    op.drop_table('customer_merges')
    with op.batch_alter_table('customer_identifiers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_identifiers_profile_id'))
        batch_op.drop_index(batch_op.f('ix_customer_identifiers_origin_profile_id'))

    op.drop_table('customer_identifiers')
    with op.batch_alter_table('customer_events', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_events_profile_time')
        batch_op.drop_index(batch_op.f('ix_customer_events_origin_profile_id'))

    op.drop_table('customer_events')
    with op.batch_alter_table('customer_consents', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_consents_profile_purpose')
        batch_op.drop_index(batch_op.f('ix_customer_consents_origin_profile_id'))

    op.drop_table('customer_consents')
    op.drop_table('loyalty_programs')
    op.drop_table('customer_separations')
    with op.batch_alter_table('customer_profiles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_profiles_merged_into'))

    op.drop_table('customer_profiles')
    with op.batch_alter_table('clv_models', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clv_models_fitted_at'))

    op.drop_table('clv_models')
