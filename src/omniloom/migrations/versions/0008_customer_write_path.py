"""customer write path: no index on origin_profile_id (never searched alone), room for HOT updates of identifiers

Plain DROP/CREATE INDEX, no table rebuild on SQLite.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# Undoing a merge finds rows by profile_id and origin_profile_id together, which the profile_id indexes serve.
ORIGIN_INDEXED = ('customer_consents', 'customer_events', 'customer_identifiers', 'customer_purchases',
                  'loyalty_entries')


def upgrade() -> None:
    for table in ORIGIN_INDEXED:
        op.drop_index(op.f(f'ix_{table}_origin_profile_id'), table_name=table)
    if op.get_bind().dialect.name == 'postgresql':
        # last_seen_at changes on most identifiers of every batch: free room on each page keeps those updates HOT
        op.execute('ALTER TABLE customer_identifiers SET (fillfactor = 80)')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE customer_identifiers RESET (fillfactor)')
    for table in ORIGIN_INDEXED:
        op.create_index(op.f(f'ix_{table}_origin_profile_id'), table, ['origin_profile_id'], unique=False)
