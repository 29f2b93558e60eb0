"""evaluations written (from plans) and the semester of a decided plan

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 09:10:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('evaluations_written',
    sa.Column('plan_id', sa.UUID(), nullable=False),
    sa.Column('semester', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('school_id', sa.UUID(), nullable=False),
    sa.Column('written_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('plan_id', 'semester', name=op.f('pk_evaluations_written'))
    )
    op.add_column('waiting_plans', sa.Column('semester', sa.String(length=40), nullable=True))


def downgrade() -> None:
    op.drop_column('waiting_plans', 'semester')
    op.drop_table('evaluations_written')
