"""Identity's command line: migrate the database, create the first platform admin, rotate keys.

python -m services.identity.cli migrate
python -m services.identity.cli create-admin --email admin@example.lv [--name "..."]
    (password from IDENTITY_ADMIN_PASSWORD, else generated and printed once)
python -m services.identity.cli rotate-keys
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from typing import cast

from services.common import migrate

from . import admin, keys
from .runtime import default_runtime
from .settings import IdentitySettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="identity")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply the database migrations")
    create = sub.add_parser("create-admin", help="create the first platform admin (idempotent)")
    create.add_argument("--email", default=os.environ.get("IDENTITY_ADMIN_EMAIL"))
    create.add_argument("--name", default=os.environ.get("IDENTITY_ADMIN_NAME", "Platformas administrators"))
    sub.add_parser("rotate-keys", help="start signing tokens with a new key")
    args = parser.parse_args(argv)

    runtime = default_runtime()
    if args.command == "migrate":
        migrate.upgrade("identity", runtime.settings.database_url)
        print("identity: database is at the newest migration")
        return 0
    if args.command == "create-admin":
        if not args.email:
            parser.error("--email or IDENTITY_ADMIN_EMAIL is required")
        password = os.environ.get("IDENTITY_ADMIN_PASSWORD") or secrets.token_urlsafe(15)
        with runtime.db.session() as session:
            user, created = admin.bootstrap_admin(session, runtime.outbox, args.email, args.name, password)
        if not created:
            print(f"identity: the admin {user.email} already exists; nothing changed")
        elif os.environ.get("IDENTITY_ADMIN_PASSWORD"):
            print(f"identity: created platform admin {user.email} (password from IDENTITY_ADMIN_PASSWORD)")
        else:
            print(f"identity: created platform admin {user.email}")
            print(f"identity: password (shown once, change it): {password}")
        return 0
    if args.command == "rotate-keys":
        with runtime.db.session() as session:
            settings = cast(IdentitySettings, runtime.settings)
            key = keys.rotate(session, settings.access_token_ttl, settings.key_retire_grace)
        print(f"identity: now signing with key {key.kid}")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
