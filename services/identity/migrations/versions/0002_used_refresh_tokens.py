"""remember every rotated-out refresh token, so reuse of any of them ends the session

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 12:00:00.000000
"""
from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('used_refresh_tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('session_id', sa.UUID(), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['refresh_sessions.id'], name=op.f('fk_used_refresh_tokens_session_id_refresh_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_used_refresh_tokens'))
    )
    op.create_index(op.f('ix_used_refresh_tokens_session_id'), 'used_refresh_tokens', ['session_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_used_refresh_tokens_session_id'), table_name='used_refresh_tokens')
    op.drop_table('used_refresh_tokens')
