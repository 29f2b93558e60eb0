"""Plans' own settings, on top of the common ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.common.settings import Settings, common_values, read_env


@dataclass(frozen=True)
class PlansSettings(Settings):
    # HMAC key for personal codes: the same person hashes the same in every tenant (finance's ledger)
    person_hash_secret: str = ""
    # Fernet key that encrypts personal codes at rest
    personal_code_key: str = ""
    # DOMAIN.md: grades 1-4 are eligible only from this date
    grades_1_4_eligible_from: date = date(2021, 9, 1)
    # a remote consultation needs the student's confirmation no later than this many days after it
    remote_confirmation_days: int = 1
    import_max_rows: int = 5000
    import_max_bytes: int = 5 * 1024 * 1024


def load_plans_settings() -> PlansSettings:
    env = read_env()
    return PlansSettings(
        **common_values("plans", env),
        person_hash_secret=env.str("PERSON_HASH_SECRET"),
        personal_code_key=env.str("PERSONAL_CODE_KEY"),
        grades_1_4_eligible_from=env.date("PLANS_GRADES_1_4_ELIGIBLE_FROM", date(2021, 9, 1)),
        remote_confirmation_days=env.int("PLANS_REMOTE_CONFIRMATION_DAYS", 1),
        import_max_rows=env.int("PLANS_IMPORT_MAX_ROWS", 5000),
        import_max_bytes=env.int("PLANS_IMPORT_MAX_BYTES", 5 * 1024 * 1024),
    )
