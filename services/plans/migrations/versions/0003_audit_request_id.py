"""audit records carry the request or message they came from

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('audit_events', sa.Column('request_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column('audit_events', 'request_id')
