"""Alembic per service: one migrations folder each, run programmatically or from env.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, create_engine, pool, text

SERVICES_DIR = Path(__file__).resolve().parent.parent


def alembic_config(service: str, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    cfg.attributes["database_url"] = url
    return cfg


def upgrade(service: str, url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service, url), revision)


def revision(service: str, url: str, message: str) -> None:
    """Write a new migration from the difference between the models and the database."""
    command.revision(alembic_config(service, url), message=message, autogenerate=True)


def check(service: str, url: str) -> None:
    """Fail when the models and the migrations disagree (`alembic check`)."""
    command.check(alembic_config(service, url))


def _render_item(type_: str, obj: Any, autogen_context: Any) -> Any:
    """Render our column types as plain SQLAlchemy ones, so migrations import nothing of ours."""
    from .db import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_env(metadata: MetaData, service: str) -> None:
    """Body of a service's migrations/env.py: online migrations under an advisory lock."""
    cfg = context.config
    url = cfg.attributes.get("database_url")
    if url is None:
        from .settings import load_settings

        url = load_settings(service).database_url
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        # two migration jobs started together must not both run: the second waits, then finds nothing
        conn.execute(text("SELECT pg_advisory_lock(hashtext(:k))"), {"k": f"migrate:{service}"})
        conn.commit()
        try:
            context.configure(connection=conn, target_metadata=metadata, compare_type=True, render_item=_render_item)
            with context.begin_transaction():
                context.run_migrations()
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": f"migrate:{service}"})
            conn.commit()


def main(argv: list[str] | None = None) -> int:
    """`python -m services.common.migrate {upgrade,revision,check} SERVICE [-m MESSAGE]`."""
    import argparse

    from .settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m services.common.migrate")
    parser.add_argument("command", choices=["upgrade", "revision", "check"])
    parser.add_argument("service")
    parser.add_argument("-m", "--message", default="change")
    args = parser.parse_args(argv)
    url = load_settings(args.service).database_url
    if args.command == "upgrade":
        upgrade(args.service, url)
    elif args.command == "revision":
        upgrade(args.service, url)
        revision(args.service, url, args.message)
    else:
        check(args.service, url)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
