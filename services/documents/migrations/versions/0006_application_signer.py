"""applications: who signed and when (issue 13)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('documents', sa.Column('signer', sa.String(length=20), nullable=True))
    op.add_column('documents', sa.Column('signed_on', sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column('documents', 'signed_on')
    op.drop_column('documents', 'signer')
