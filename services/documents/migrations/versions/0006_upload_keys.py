"""upload keys: an upload's Idempotency-Key names the upload its retries answer

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 09:00:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'upload_keys',
        sa.Column('id', sa.UUID(), nullable=False),
        sa.Column('uploaded_by', sa.UUID(), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('document_id', sa.UUID(), nullable=False),
        sa.Column('version_id', sa.UUID(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['document_id'], ['documents.id'], name=op.f('fk_upload_keys_document_id_documents'), ondelete='CASCADE'
        ),
        sa.ForeignKeyConstraint(
            ['version_id'],
            ['document_versions.id'],
            name=op.f('fk_upload_keys_version_id_document_versions'),
            ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_upload_keys')),
        sa.UniqueConstraint('uploaded_by', 'key', name=op.f('uq_upload_keys_uploaded_by')),
    )
    op.create_index(op.f('ix_upload_keys_created_at'), 'upload_keys', ['created_at'], unique=False)
    op.create_index(op.f('ix_upload_keys_document_id'), 'upload_keys', ['document_id'], unique=False)
    op.create_index(op.f('ix_upload_keys_version_id'), 'upload_keys', ['version_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_upload_keys_version_id'), table_name='upload_keys')
    op.drop_index(op.f('ix_upload_keys_document_id'), table_name='upload_keys')
    op.drop_index(op.f('ix_upload_keys_created_at'), table_name='upload_keys')
    op.drop_table('upload_keys')
