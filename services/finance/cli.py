"""Finance's command line.

python -m services.finance.cli migrate          (database migrations)
python -m services.finance.cli seed-settings    (EXAMPLE programme settings when none; publish what is in force)
python -m services.finance.cli build-statements --month 2026-10 [--tenant ID]
"""

from __future__ import annotations

import argparse
import sys
import uuid
from datetime import date

from sqlalchemy import select

from services.common import migrate

from . import settings_changes, statements
from .models import TenantRM
from .runtime import default_runtime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="finance")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply the database migrations")
    sub.add_parser("seed-settings", help="record the EXAMPLE programme settings if none; publish those in force")
    build = sub.add_parser("build-statements", help="build a month's statements now")
    build.add_argument("--month", required=True, help="YYYY-MM")
    build.add_argument("--tenant", default=None)
    args = parser.parse_args(argv)
    runtime = default_runtime()
    if args.command == "migrate":
        migrate.upgrade("finance", runtime.settings.database_url)
        print("finance: database is at the newest migration")
    elif args.command == "seed-settings":
        with runtime.db.session() as session:
            revision = settings_changes.seed(session, runtime.outbox)
        print(f"finance: programme settings revision {revision} in force and published (EXAMPLE values until changed)")
    else:
        month = date.fromisoformat(f"{args.month}-01")
        with runtime.db.session() as session:
            ids = [uuid.UUID(args.tenant)] if args.tenant else list(session.execute(select(TenantRM.id)).scalars())
            for tenant_id in ids:
                st, new = statements.build(
                    session, runtime.outbox, runtime.staging, tenant_id, month, trigger="on_demand"
                )
                print(f"finance: {tenant_id} {args.month}: statement {st.number} ({'new' if new else 'unchanged'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
