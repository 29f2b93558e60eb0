"""Plans' command line.

python -m services.plans.cli migrate
"""

from __future__ import annotations

import argparse
import sys

from services.common import migrate

from .runtime import default_runtime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="plans")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply the database migrations")
    args = parser.parse_args(argv)
    if args.command == "migrate":
        migrate.upgrade("plans", default_runtime().settings.database_url)
        print("plans: database is at the newest migration")
    return 0


if __name__ == "__main__":
    sys.exit(main())
