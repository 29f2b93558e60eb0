"""Plans fixtures: a plans app and a real plans worker on real PostgreSQL and Redis, fed by identity.

Tenants and users are made in identity (the `world` fixture); their messages travel through the real
broker to the plans worker, exactly as in production. Programme settings are sent as finance sends them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet

from services.common import migrate
from services.common.contracts.documents import COMPENSATION_CATEGORIES
from services.plans.models import Base, SchoolRM, UserRM
from services.plans.settings import PlansSettings
from tests.conftest import log_path, truncate_all
from tests.support.workers import Worker, wait_for

EXAMPLE_SETTINGS: dict[str, Any] = {
    "revision": 1,
    "effective_from": "2021-09-01",
    # example values: the public record has no unit-cost rates (DOMAIN.md, "Open")
    "consultation_rates": {
        "teacher": "20.00",
        "psychologist": "30.00",
        "social_pedagogue": "25.00",
        "teachers_assistant": "15.00",
        "special_education_teacher": "25.00",
        "sign_language_interpreter": "30.00",
        "assistant": "12.00",
        "occupational_therapist": "30.00",
        "speech_therapist": "30.00",
    },
    "preparation_rate": "20.00",
    "preparation_hours_cap": "6",
    "compensation_categories": list(COMPENSATION_CATEGORIES),
    "semesters": [
        {
            "code": "2026/2027-1",
            "school_type": "general",
            "school_year": "2026/2027",
            "number": 1,
            "starts_on": "2026-09-01",
            "ends_on": "2026-12-22",
        },
        {
            "code": "2026/2027-2",
            "school_type": "general",
            "school_year": "2026/2027",
            "number": 2,
            "starts_on": "2027-01-05",
            "ends_on": "2027-05-31",
        },
        {
            "code": "2026/2027-1",
            "school_type": "vocational",
            "school_year": "2026/2027",
            "number": 1,
            "starts_on": "2026-09-01",
            "ends_on": "2027-01-15",
        },
    ],
    "example_values": True,
}


@pytest.fixture(scope="session")
def plans_settings(make_database, redis_url, identity_settings) -> PlansSettings:  # type: ignore[no-untyped-def]
    url = make_database("plans")
    migrate.upgrade("plans", url)
    return PlansSettings(
        service="plans",
        database_url=url,
        broker_url=redis_url,
        result_backend=redis_url,
        jwt_issuer=identity_settings.jwt_issuer,
        jwt_audience="pumpurs",
        jwks_url=identity_settings.jwks_url,
        log_format="console",
        log_level="WARNING",
        person_hash_secret="test-person-hash-secret",
        personal_code_key=Fernet.generate_key().decode(),
        task_retry_backoff=0.2,
    )


def plans_env(settings: PlansSettings) -> dict[str, str]:
    return {
        "PLANS_DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.broker_url,
        "PERSON_HASH_SECRET": settings.person_hash_secret,
        "PERSONAL_CODE_KEY": settings.personal_code_key,
        "JWT_ISSUER": settings.jwt_issuer,
        "LOG_LEVEL": "INFO",
        "TASK_RETRY_BACKOFF": "0.2",
    }


@pytest.fixture(scope="session")
def plans_worker(plans_settings: PlansSettings) -> Iterator[Worker]:
    w = Worker("services.plans.worker", "plans", plans_env(plans_settings), log_path("plans-worker"))
    w.start()
    yield w
    w.stop()


@pytest.fixture(scope="session")
def plans_app(plans_settings: PlansSettings, identity_app: Any) -> Any:
    from services.identity.app import LocalKeys
    from services.plans.app import create_app

    app = create_app(plans_settings, key_source=LocalKeys(identity_app.extensions["runtime"]))
    app.testing = True
    return app


@pytest.fixture()
def plans_runtime(plans_app: Any) -> Any:
    return plans_app.extensions["runtime"]


def send_as(runtime: Any, task: str, payload: dict[str, Any]) -> str:
    """Send a message to plans through the broker, as another service's outbox would."""
    message_id = str(uuid.uuid4())
    spec = runtime.contract.get(task)
    runtime.celery.send_task(
        task,
        queue=spec.queue,
        task_id=message_id,
        kwargs={
            "message": {
                "message_id": message_id,
                "name": task,
                "version": spec.version,
                "correlation_id": None,
                "payload": spec.normalise(payload),
            }
        },
    )
    return message_id


@pytest.fixture()
def plans_client(plans_app: Any, plans_settings: PlansSettings, plans_worker: Worker, client: Any) -> Any:
    """A plans test client on a clean plans database with the example programme settings received.

    Depends on `client`, which resets identity to only its platform admin.
    """
    truncate_all(plans_settings.database_url, [t.name for t in Base.metadata.sorted_tables])
    runtime = plans_app.extensions["runtime"]
    send_as(runtime, "plans.sync_programme_settings", EXAMPLE_SETTINGS)
    from services.plans.models import ProgrammeSettingsRM

    def received() -> bool:
        with runtime.db.session() as s:
            return s.get(ProgrammeSettingsRM, 1) is not None

    wait_for(received, message="programme settings in plans")
    return plans_app.test_client()


class PlansWorld:
    """Identity's world, waited for until plans' read models hold it."""

    def __init__(self, world: Any, runtime: Any) -> None:
        self.world, self.runtime = world, runtime

    def tenant(self, kind: str = "municipality", region: str = "kurzeme") -> dict[str, Any]:
        tenant = self.world.tenant(kind=kind, region=region)
        if kind == "municipality":
            tenant["schools"] = [self.world.school(tenant)]
        self._wait(SchoolRM, tenant["schools"][-1])
        tenant["school"] = tenant["schools"][0]
        return tenant

    def user(self, tenant: dict[str, Any] | None, *grants: dict[str, Any]) -> dict[str, Any]:
        user = self.world.user(tenant, *grants)
        self._wait(UserRM, user["id"])
        return user

    def staff(self, tenant: dict[str, Any], role: str, *extra_roles: str, school: str | None = None) -> dict[str, Any]:
        """A user of the tenant's school holding `role` (and `extra_roles`) in that school."""
        school = school or tenant["school"]
        tenant_wide = {"municipality_coordinator", "accountant"}
        grants = [
            {"role": r, "tenant_id": tenant["id"], **({} if r in tenant_wide else {"school_id": school})}
            for r in (role, *extra_roles)
        ]
        return self.user(tenant, *grants)

    def _wait(self, model: Any, key: str) -> None:
        def present() -> bool:
            with self.runtime.db.session() as s:
                return s.get(model, uuid.UUID(key)) is not None

        wait_for(present, timeout=30, message=f"{model.__name__} {key} in plans")


@pytest.fixture()
def plans_world(world: Any, plans_runtime: Any, plans_client: Any) -> PlansWorld:
    return PlansWorld(world, plans_runtime)


# valid codes (check digits computed with python-stdnum's algorithm); never real people's
MINOR_CODE = "140312-21007"  # born 14.03.2012
ADULT_CODE = "010190-11004"  # born 01.01.1990
OTHER_MINOR_CODE = "150508-21002"  # born 15.05.2008
NEW_FORMAT_CODE = "32123456785"  # new format, valid check digit
NEW_FORMAT_BAD_CHECK = "32123456784"  # new format, check digit mismatch: a warning only


def make_student(
    runtime: Any,
    tenant: dict[str, Any],
    code: str,
    birth: str,
    *,
    grade: int | None = 7,
    course: int | None = None,
    school: str | None = None,
) -> str:
    """A student written straight to plans' table, for tests about plans rather than students."""
    from datetime import date as _date

    from services.plans import codes
    from services.plans.models import Student

    settings = runtime.settings
    checked = codes.check_personal_code(code)
    with runtime.db.session() as s:
        student = Student(
            id=uuid.uuid4(),
            tenant_id=uuid.UUID(tenant["id"]),
            school_id=uuid.UUID(school or tenant["school"]),
            first_name="Līga",
            last_name="Kalniņa",
            code_kind="personal_code",
            code_hash=codes.code_hash(settings.person_hash_secret, "personal_code", checked.compact),
            code_encrypted=codes.encrypt(settings.personal_code_key, checked.compact),
            code_hint=codes.hint("personal_code", checked.compact),
            birth_date=_date.fromisoformat(birth),
            grade=grade,
            course=course,
            declared_municipality="Ventspils",
            actual_municipality="Ventspils",
        )
        s.add(student)
        return str(student.id)


def application_message(plan: dict[str, Any], signer: str, *, version: int = 1, **changes: Any) -> dict[str, Any]:
    """`plans.register_application` as documents sends it once an application for `plan` is stored."""
    return {
        "document_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"application:{plan['id']}")),
        "version": version,
        "tenant_id": plan["tenant_id"],
        "school_id": plan["school_id"],
        "student_id": plan["student_id"],
        "plan_id": plan["id"],
        "signer": signer,
        "signed_on": "2026-09-02",
        "sha256": "ab" * 32,
        "size": 2048,
        "media_type": "application/pdf",
        "duplicate_in_tenant": False,
        "duplicate_of": [],
        "uploaded_by": plan["preparer_id"],
        "uploaded_at": "2026-09-02T08:00:00+00:00",
        **changes,
    }


def file_application(runtime: Any, plan: dict[str, Any], signer: str, *, version: int = 1, **changes: Any) -> str:
    """Send the application's message as documents does; wait for plans' verdict on it and return its status."""
    from sqlalchemy import select

    from services.plans.models import MESSAGING

    body = application_message(plan, signer, version=version, **changes)
    send_as(runtime, "plans.register_application", body)
    t = MESSAGING.outbox

    def verdict() -> str | None:
        with runtime.db.session() as s:
            rows = s.execute(select(t.c.payload).where(t.c.task_name == "documents.set_review_status")).scalars()
            mine = [p for p in rows if p["document_id"] == body["document_id"] and p["version"] == version]
        return mine[-1]["status"] if mine else None

    return wait_for(verdict, timeout=30, message="plans' verdict on the application")  # type: ignore[no-any-return]
