"""abandoned uploads: the sweep's index covers them

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 10:10:00
"""
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_document_versions_uploading', table_name='document_versions', postgresql_where="state = 'uploading'")
    op.create_index(
        'ix_document_versions_unfinished',
        'document_versions',
        ['created_at'],
        unique=False,
        postgresql_where="state IN ('uploading', 'abandoned')",
    )


def downgrade() -> None:
    op.execute("UPDATE document_versions SET state = 'uploading' WHERE state = 'abandoned'")
    op.drop_index(
        'ix_document_versions_unfinished',
        table_name='document_versions',
        postgresql_where="state IN ('uploading', 'abandoned')",
    )
    op.create_index('ix_document_versions_uploading', 'document_versions', ['created_at'], unique=False, postgresql_where="state = 'uploading'")
