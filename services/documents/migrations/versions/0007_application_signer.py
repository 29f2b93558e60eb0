"""applications: who signed and when (issue 13)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('documents', sa.Column('signer', sa.String(length=20), nullable=True))
    op.add_column('documents', sa.Column('signed_on', sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column('documents', 'signed_on')
    op.drop_column('documents', 'signer')
