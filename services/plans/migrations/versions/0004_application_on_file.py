"""applications on file: the version of the stored document plans accepted (issue 13)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # applications recorded before by a PATCH keep their fields but are not on file: only a stored document
    # documents announces counts, so those plans upload theirs before they are submitted
    op.add_column('plans', sa.Column('application_version', sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column('plans', 'application_version')
