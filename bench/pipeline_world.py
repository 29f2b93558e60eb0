"""The world the pipeline's claims are checked against, and the receipts uploaded.

One municipality with a school and a coordinator made in identity (its messages reach finance through identity's
outbox), students' approved plans sent as plans sends them, and an attestation per student uploaded through
documents' API, so every claim of the benchmark can be accepted: none is refused for an unknown plan or a
missing attestation. Each client's n-th upload claims its own student, category and month.
"""

from __future__ import annotations

import io
import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests

from .core import log, scrubbed_environ, wait_until
from .pipeline_stack import Stack

PASSWORD = "bench-coordinator-password"
SEMESTER = ("2026/2027-1", "2026-09-01", "2026-12-22")
# every claim is one of these per student: a compensation category and a month of the semester
CATEGORIES = ("public_transport", "meals", "accommodation")
MONTHS = ("2026-09", "2026-10", "2026-11", "2026-12")
COMBOS = [(c, m) for m in MONTHS for c in CATEGORIES]
PLANNED = "100.00"  # per category and plan: four months of claims below the monthly caps fit
DOCUMENT_KB = 100


class Receipts:
    """100 KB PDFs of one page with a scanned image (random bytes: it does not compress), each with its own
    number in the title, so every upload's bytes and checksum differ; made once, numbered in place."""

    PLACEHOLDER = b"BENCH000000000000"  # letters and digits: written as they are

    def __init__(self, kb: int = DOCUMENT_KB) -> None:
        from pypdf import PdfWriter
        from pypdf.generic import NameObject, NumberObject, StreamObject

        side = int((kb * 1024 / 3) ** 0.5)
        writer = PdfWriter()
        page = writer.add_blank_page(595, 842)
        image = StreamObject()
        image.set_data(os.urandom(side * side * 3))
        image.update(
            {
                NameObject("/Type"): NameObject("/XObject"),
                NameObject("/Subtype"): NameObject("/Image"),
                NameObject("/Width"): NumberObject(side),
                NameObject("/Height"): NumberObject(side),
                NameObject("/ColorSpace"): NameObject("/DeviceRGB"),
                NameObject("/BitsPerComponent"): NumberObject(8),
            }
        )
        from pypdf.generic import DictionaryObject

        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/XObject"): DictionaryObject({NameObject("/Im0"): writer._add_object(image)})}
        )
        writer.add_metadata({"/Title": "Kvits " + self.PLACEHOLDER.decode()})
        out = io.BytesIO()
        writer.write(out)
        self.template = out.getvalue()
        if self.template.count(self.PLACEHOLDER) != 1:
            raise RuntimeError("the receipt template does not hold its number once")
        self._lock = threading.Lock()
        self._next = 0

    def make(self, n: int) -> bytes:
        """The receipt numbered `n` (negative numbers too: the world's attestations use them)."""
        return self.template.replace(self.PLACEHOLDER, f"BENCH{n % 10**12:012d}".encode())

    def fresh(self) -> bytes:
        with self._lock:
            self._next += 1
            n = self._next
        return self.make(n)

    @property
    def size(self) -> int:
        return len(self.template)


@dataclass
class World:
    """The coordinator's token, and the plans (one per student) each client's uploads claim against."""

    tenant_id: str
    school_id: str
    token: str
    plans: list[list[dict[str, Any]]]  # per client, its students' plan snapshots

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def claim(self, client: int, n: int) -> dict[str, str]:
        """The form of a client's n-th upload: its own student, category and month, never claimed before."""
        plan = self.plans[client][n // len(COMBOS)]
        category, month = COMBOS[n % len(COMBOS)]
        return {
            "kind": "expense_receipt",
            "student_id": plan["student_id"],
            "plan_id": plan["plan_id"],
            "category": category,
            "month": month,
            "amount": f"{8 + n % 5}.{(7 * n) % 100:02d}",  # under every cap and, four months together, the plan
        }


def seed(stack: Stack, clients: int, uploads_per_client: int, pdf: Callable[[int], bytes]) -> World:
    """Tenant, school and coordinator in identity; plans as plans sends them; attestations through documents."""
    students_per_client = -(-uploads_per_client // len(COMBOS))
    tenant_id, school_id, email = _identity(stack, students=clients * students_per_client)
    token = _login(stack.identity_url, email)
    plans = [[snapshot(tenant_id, school_id) for _ in range(students_per_client)] for _ in range(clients)]
    every = [p for mine in plans for p in mine]
    world = World(tenant_id, school_id, token, plans)
    _send_plans(stack, every)
    log(f"pipeline: {len(every)} plans sent; uploading an attestation for each student")
    attestations = _upload_attestations(stack, world, every, pdf)
    _wait_seeded(stack, len(every), attestations)
    return world


def _identity(stack: Stack, students: int) -> tuple[str, str, str]:
    from services.common.auth import PLATFORM_ADMIN, Grant, Principal
    from services.identity import admin
    from services.identity.runtime import make_runtime
    from services.identity.settings import load_identity_settings

    with scrubbed_environ(
        IDENTITY_DATABASE_URL=stack.db["identity"],
        REDIS_URL=stack.broker,
        JWT_ISSUER=stack.identity_url,
        IDENTITY_PUBLIC_URL=stack.identity_url,
        LOG_LEVEL="WARNING",
        LOG_FORMAT="console",
    ):
        settings = load_identity_settings()
    runtime = make_runtime(settings)
    system = Principal(user_id=str(uuid.UUID(int=0)), tenant_id=None, region=None, grants=(Grant(PLATFORM_ADMIN),))
    suffix = f"{time.time_ns() % 10**9:09d}"
    email = f"koordinators{suffix}@bench.local"
    try:  # each commit relays its messages at once: the tenant and its school reach finance's queue
        with runtime.db.session() as s:
            tenant = admin.create_tenant(
                s,
                runtime.outbox,
                system,
                {
                    "kind": "municipality",
                    "name": f"Bench novads {suffix}",
                    "registration_number": f"90{suffix}",
                    "region": "zemgale",
                    # the semester budget (EXAMPLE: 15 EUR a student) holds every claim of the run
                    "student_count": max(1000, 10 * students),
                },
            )
            tenant_id = tenant.id
        with runtime.db.session() as s:
            school = admin.create_school(
                s,
                runtime.outbox,
                system,
                tenant_id,
                {"name": f"Bench pamatskola {suffix}", "registration_number": f"40{suffix}", "student_count": 300},
            )
            school_id = school.id
        with runtime.db.session() as s:
            admin.create_user(
                s,
                runtime.outbox,
                settings,
                system,
                {
                    "email": email,
                    "full_name": "Bench Koordinators",
                    "password": PASSWORD,
                    "tenant_id": tenant_id,
                    "roles": [{"role": "school_coordinator", "tenant_id": tenant_id, "school_id": school_id}],
                },
            )
    finally:
        if "celery" in vars(runtime):
            runtime.celery.close()
        runtime.db.dispose()
    return str(tenant_id), str(school_id), email


def _login(identity_url: str, email: str) -> str:
    resp = requests.post(f"{identity_url}/auth/login", json={"email": email, "password": PASSWORD}, timeout=60)
    if resp.status_code != 200:
        raise RuntimeError(f"login as the coordinator -> {resp.status_code}: {resp.text[:300]}")
    return str(resp.json()["access_token"])


def snapshot(tenant_id: str, school_id: str) -> dict[str, Any]:
    """An approved plan in progress as plans sends it: three compensations planned, and consultations."""
    measures: list[dict[str, Any]] = [
        {"measure_id": str(uuid.uuid4()), "kind": "compensation", "category": c, "planned_amount": PLANNED}
        for c in CATEGORIES
    ]
    measures.append(
        {
            "measure_id": str(uuid.uuid4()),
            "kind": "consultation",
            "provider_type": "psychologist",
            "planned_hours": "10.00",
        }
    )
    financing = Decimal(PLANNED) * len(CATEGORIES) + Decimal("300.00") + Decimal("40.00")
    return {
        "plan_id": str(uuid.uuid4()),
        "revision": 1,
        "code": f"IAP-20262027-{uuid.uuid4().hex[:6].upper()}",
        "tenant_id": tenant_id,
        "school_id": school_id,
        "student_id": str(uuid.uuid4()),
        "student_key": uuid.uuid4().hex + uuid.uuid4().hex,  # plans' keyed hash: 64 hex digits, never a code
        "semester": SEMESTER[0],
        "semester_start": SEMESTER[1],
        "semester_end": SEMESTER[2],
        "status": "in_progress",
        "prepared_on": "2026-09-10",
        "preparation_hours": "2.00",
        "planned_financing": str(financing),
        "measures": measures,
    }


def _send_plans(stack: Stack, plans: list[dict[str, Any]]) -> None:
    """finance.sync_plan for each plan, as plans' outbox sends it (validated against the contract)."""
    from services.common.celery_app import make_celery
    from services.common.contracts import CONTRACT
    from services.common.settings import Settings

    settings = Settings(
        service="plans",
        database_url="",
        broker_url=stack.broker,
        result_backend=stack.broker,
        jwt_issuer=stack.identity_url,
        jwt_audience="pumpurs",
        jwks_url="",
    )
    celery = make_celery(settings, CONTRACT)
    spec = CONTRACT.get("finance.sync_plan")
    try:
        for plan in plans:
            mid = str(uuid.uuid4())
            envelope = {
                "message_id": mid,
                "name": spec.name,
                "version": spec.version,
                "correlation_id": None,
                "payload": spec.normalise(plan),
            }
            celery.send_task(spec.name, queue=spec.queue, task_id=mid, kwargs={"message": envelope})
    finally:
        celery.close()


def _upload_attestations(
    stack: Stack, world: World, plans: list[dict[str, Any]], pdf: Callable[[int], bytes]
) -> list[str]:
    """A social service's attestation per student, uploaded by the coordinator: the real path to finance."""
    local = threading.local()

    def one(k: int) -> str:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        plan = plans[k]
        form = {
            "kind": "attestation",
            "student_id": plan["student_id"],
            "plan_id": plan["plan_id"],
            "issuer": "Bench novada Sociālais dienests",
            "issued_on": "2026-08-20",
            "valid_from": SEMESTER[1],
            "valid_to": SEMESTER[2],
            "categories": list(CATEGORIES),
        }
        resp = local.session.post(
            f"{stack.documents_url}/documents",
            headers=world.headers(),
            data=form,
            files={"file": ("izzina.pdf", io.BytesIO(pdf(-1 - k)), "application/pdf")},
            timeout=60,
        )
        if resp.status_code != 201:
            raise RuntimeError(f"attestation upload -> {resp.status_code}: {resp.text[:300]}")
        return str(resp.json()["id"])

    with ThreadPoolExecutor(max_workers=len(world.plans)) as pool:
        return list(pool.map(one, range(len(plans))))


def _wait_seeded(stack: Stack, plans: int, attestations: list[str]) -> None:
    import psycopg

    def count(service: str, sql: str, *args: Any) -> int:
        stack.check_alive()
        with psycopg.connect(stack.db[service], autocommit=True, connect_timeout=5) as conn:
            row = conn.execute(sql, args).fetchone()
            return int(row[0]) if row else 0

    wait_until(
        lambda: count("finance", "SELECT count(*) FROM schools_rm") >= 1, timeout=60, what="the school in finance"
    )
    wait_until(lambda: count("finance", "SELECT count(*) FROM plans_rm") >= plans, timeout=60, what="plans in finance")
    wait_until(
        lambda: (
            count(
                "documents",
                "SELECT count(*) FROM documents WHERE id = ANY(%s::uuid[]) AND status = 'accepted'",
                attestations,
            )
            >= len(attestations)
        ),
        timeout=90,
        what=f"{len(attestations)} attestations accepted",
    )
