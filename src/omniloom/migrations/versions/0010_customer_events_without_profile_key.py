"""customer events without a foreign key on profile_id: events are stored on a profile read in the same transaction
and profiles are never deleted, so the key only cost a lookup (and a row lock) per stored event

On SQLite dropping a constraint rebuilds the table (no table references customer_events).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

KEY = 'fk_customer_events_profile_id_customer_profiles'


def upgrade() -> None:
    with op.batch_alter_table('customer_events', schema=None) as batch_op:
        batch_op.drop_constraint(KEY, type_='foreignkey')


def downgrade() -> None:
    with op.batch_alter_table('customer_events', schema=None) as batch_op:
        batch_op.create_foreign_key(KEY, 'customer_profiles', ['profile_id'], ['id'])
