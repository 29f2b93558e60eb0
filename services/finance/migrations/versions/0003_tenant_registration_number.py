"""tenants' registration numbers, for the statements (issue 13)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # filled by identity's next tenant_changed; until then a statement says the number is not known yet
    op.add_column('tenants_rm', sa.Column('registration_number', sa.String(length=20), nullable=True))


def downgrade() -> None:
    op.drop_column('tenants_rm', 'registration_number')
