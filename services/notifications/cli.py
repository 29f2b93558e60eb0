"""Notifications' command line.

python -m services.notifications.cli migrate
python -m services.notifications.cli send-reminders [--today 2026-10-08]   (what the scheduler runs hourly)
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import cast

from services.common import migrate

from . import reminder_jobs
from .runtime import default_runtime
from .settings import NotificationsSettings
from .tasks import today_in_riga


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="notifications")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply the database migrations")
    rem = sub.add_parser("send-reminders", help="send the reminders due on a day (default: today, Europe/Riga)")
    rem.add_argument("--today", type=date.fromisoformat, default=None)
    args = parser.parse_args(argv)
    runtime = default_runtime()
    if args.command == "migrate":
        migrate.upgrade("notifications", runtime.settings.database_url)
        print("notifications: database is at the newest migration")
    elif args.command == "send-reminders":
        settings = cast(NotificationsSettings, runtime.settings)
        with runtime.db.session() as session:
            made = reminder_jobs.send_reminders(session, runtime.outbox, settings, args.today or today_in_riga())
        print(f"notifications: {made} new reminders")
    return 0


if __name__ == "__main__":
    sys.exit(main())
