"""Notifications' migrations on a database of their own: webhooks made before their secrets were
encrypted get them encrypted under NOTIFICATIONS_WEBHOOK_KEY; without the key nothing changes."""

from __future__ import annotations

import uuid

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from services.common import migrate

pytestmark = pytest.mark.integration

SECRET = "whsec_" + "k" * 43


@pytest.fixture()
def at_0002(make_database) -> str:  # type: ignore[no-untyped-def]
    """A notifications database at revision 0002 with a webhook whose secret is stored in clear."""
    url = make_database("notifications_migrate")
    migrate.upgrade("notifications", url, "0002")
    with create_engine(url).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO webhooks (id, tenant_id, url, secret, kinds, description, active, created_by,"
                " created_at, updated_at) VALUES (:id, :t, 'https://hooks.example.lv/p', :s, '[]', '', true, :u,"
                " now(), now())"
            ),
            {"id": uuid.uuid4(), "t": uuid.uuid4(), "s": SECRET, "u": uuid.uuid4()},
        )
    return url


def _state(url: str) -> tuple[str, dict[str, object]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        row = conn.execute(text("SELECT * FROM webhooks")).mappings().one()
    engine.dispose()
    return version, dict(row)


def test_existing_secrets_are_encrypted_and_a_downgrade_gives_them_back(at_0002, monkeypatch):
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("NOTIFICATIONS_WEBHOOK_KEY", key)
    migrate.upgrade("notifications", at_0002)
    version, row = _state(at_0002)
    head = ScriptDirectory.from_config(migrate.alembic_config("notifications", at_0002)).get_current_head()
    assert version == head and "secret" not in row and SECRET not in str(row)
    assert Fernet(key.encode()).decrypt(str(row["secret_encrypted"]).encode()).decode() == SECRET
    migrate.check("notifications", at_0002)

    migrate.upgrade("notifications", at_0002)  # again: nothing to do
    assert _state(at_0002)[1]["secret_encrypted"] == row["secret_encrypted"]
    command.downgrade(migrate.alembic_config("notifications", at_0002), "0002")
    version, row = _state(at_0002)
    assert version == "0002" and row["secret"] == SECRET and "secret_encrypted" not in row


def test_without_the_key_the_migration_refuses_and_changes_nothing(at_0002, monkeypatch):
    monkeypatch.delenv("NOTIFICATIONS_WEBHOOK_KEY", raising=False)
    with pytest.raises(RuntimeError, match="NOTIFICATIONS_WEBHOOK_KEY"):
        migrate.upgrade("notifications", at_0002)
    version, row = _state(at_0002)
    assert version == "0002" and row["secret"] == SECRET and "secret_encrypted" not in row
