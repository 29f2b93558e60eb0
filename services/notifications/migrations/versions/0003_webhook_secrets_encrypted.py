"""webhook secrets encrypted at rest (Fernet under NOTIFICATIONS_WEBHOOK_KEY); existing rows encrypted

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 09:40:00.000000
"""
import os

from alembic import op
import sqlalchemy as sa
from cryptography.fernet import Fernet


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

KEY = "NOTIFICATIONS_WEBHOOK_KEY"


def _fernet() -> Fernet:
    key = os.environ.get("NOTIFICATIONS_WEBHOOK_KEY", "")
    if not key:
        # refuse rather than leave secrets in clear or lose them: the whole migration rolls back
        raise RuntimeError(f"webhooks exist: set {KEY} (a Fernet key) to encrypt their secrets, then migrate again")
    return Fernet(key.encode())


def upgrade() -> None:
    op.add_column('webhooks', sa.Column('secret_encrypted', sa.Text(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, secret FROM webhooks")).all()
    if rows:
        fernet = _fernet()
        for row in rows:
            conn.execute(
                sa.text("UPDATE webhooks SET secret_encrypted = :sealed WHERE id = :id"),
                {"sealed": fernet.encrypt(row.secret.encode()).decode(), "id": row.id},
            )
    op.alter_column('webhooks', 'secret_encrypted', nullable=False)
    op.drop_column('webhooks', 'secret')


def downgrade() -> None:
    op.add_column('webhooks', sa.Column('secret', sa.String(length=100), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, secret_encrypted FROM webhooks")).all()
    if rows:
        fernet = _fernet()
        for row in rows:
            conn.execute(
                sa.text("UPDATE webhooks SET secret = :secret WHERE id = :id"),
                {"secret": fernet.decrypt(row.secret_encrypted.encode()).decode(), "id": row.id},
            )
    op.alter_column('webhooks', 'secret', nullable=False)
    op.drop_column('webhooks', 'secret_encrypted')
