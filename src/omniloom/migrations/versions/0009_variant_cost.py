"""variant cost: what one unit costs the retailer, for margin rules (feeds leave out items below a margin)

Plain ADD/DROP COLUMN, no table rebuild: on SQLite a rebuild drops the table, and with foreign keys on that would
cascade to the listings of every variant.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('variants', sa.Column('cost_amount', sa.BigInteger(), nullable=True))
    op.add_column('variants', sa.Column('cost_currency', sa.String(length=3), nullable=True))


def downgrade() -> None:
    op.drop_column('variants', 'cost_currency')
    op.drop_column('variants', 'cost_amount')
