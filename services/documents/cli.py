"""Documents' command line: migrate the database and set up the bucket.

python -m services.documents.cli migrate        (database migrations, then the bucket)
python -m services.documents.cli setup-bucket
"""

from __future__ import annotations

import argparse
import sys

from services.common import migrate

from .runtime import default_runtime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="documents")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply the database migrations and set up the bucket")
    sub.add_parser("setup-bucket", help="create the bucket, turn versioning on, add the lifecycle rule")
    args = parser.parse_args(argv)

    runtime = default_runtime()
    if args.command == "migrate":
        migrate.upgrade("documents", runtime.settings.database_url)
        print("documents: database is at the newest migration")
    setup = runtime.storage.ensure_bucket()
    print(
        f"documents: bucket {runtime.storage.bucket} ready (created={setup.created}, "
        f"versioning={setup.versioning}, object_lock={setup.object_lock}, "
        f"abort-incomplete-multipart rule={setup.lifecycle})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
