"""audit records in the kernel's shape: a target (type, id) instead of a document id, the request id,
and a tenant only when there is one

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('audit_events', sa.Column('target_type', sa.String(length=40), nullable=True))
    op.add_column('audit_events', sa.Column('target_id', sa.String(length=64), nullable=True))
    op.add_column('audit_events', sa.Column('request_id', sa.String(length=64), nullable=True))
    op.execute("UPDATE audit_events SET target_type = 'document', target_id = document_id::text")
    op.alter_column('audit_events', 'target_type', nullable=False)
    op.alter_column('audit_events', 'target_id', nullable=False)
    op.alter_column('audit_events', 'tenant_id', nullable=True)
    op.drop_index('ix_audit_events_document', table_name='audit_events')
    op.drop_column('audit_events', 'document_id')
    op.create_index('ix_audit_events_target', 'audit_events', ['target_type', 'target_id'], unique=False)


def downgrade() -> None:
    op.add_column('audit_events', sa.Column('document_id', sa.UUID(), nullable=True))
    op.execute("UPDATE audit_events SET document_id = target_id::uuid WHERE target_type = 'document'")
    op.execute("DELETE FROM audit_events WHERE document_id IS NULL OR tenant_id IS NULL")
    op.alter_column('audit_events', 'document_id', nullable=False)
    op.alter_column('audit_events', 'tenant_id', nullable=False)
    op.drop_index('ix_audit_events_target', table_name='audit_events')
    op.create_index('ix_audit_events_document', 'audit_events', ['document_id'], unique=False)
    op.drop_column('audit_events', 'request_id')
    op.drop_column('audit_events', 'target_id')
    op.drop_column('audit_events', 'target_type')
