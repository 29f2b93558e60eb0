"""Attack fixtures: all five apps on real PostgreSQL, Redis and S3, and one small world of two tenants.

The apps, their settings and databases are the integration fixtures, imported by name. The world is made
once per package: tenants and users in identity, then students, plans, documents, claims, a statement,
a webhook and an inbox message through the services' APIs and domain functions, as their users would.
What one service tells another travels as in production (each outbox, the contract's task names and
payload schemas, each consumer's idempotent handler), delivered here in this process, so no worker of
another test package competes for the queues.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import redis
from cryptography.hazmat.primitives import serialization
from sqlalchemy import insert, select, text

from services.common.db import utcnow
from services.common.messaging import envelope
from services.identity import admin, keys
from tests.integration.conftest import (  # noqa: F401  (fixtures used here, by name)
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    World,
    bearer,
    identity_app,
    identity_settings,
    login,
)
from tests.integration.documents.conftest import documents_app, documents_settings  # noqa: F401
from tests.integration.finance.conftest import finance_app, finance_settings  # noqa: F401
from tests.integration.notifications.conftest import notifications_app, notifications_settings  # noqa: F401
from tests.integration.plans.conftest import MINOR_CODE, make_student, plans_app, plans_settings  # noqa: F401
from tests.integration.plans.test_delivery import agree, consult
from tests.integration.plans.test_plan_lifecycle import act, ready_plan
from tests.unit.documents.samples import pdf

SERVICES = ("identity", "plans", "documents", "finance", "notifications")
QUEUES = SERVICES
# deliveries leave the machine (SMTP, a webhook's URL); the world needs only what lands in databases
NOT_RELAYED = ("notifications.deliver_email", "notifications.deliver_webhook")
MONTH = "2026-10"
SEMESTER = "2026/2027-1"
# every role a tenant's staff holds; `preparer` also teaches (a plan's preparer must be a teacher)
STAFF = {
    "coordinator": ("school_coordinator",),
    "director": ("director",),
    "preparer": ("plan_preparer", "teacher"),
    "teacher": ("teacher",),
    "provider": ("support_provider",),
    "municipality": ("municipality_coordinator",),
    "accountant": ("accountant",),
    "auditor": ("auditor",),
    # a user whose other sessions an operation may end (POST /auth/sessions/end-others) without harming the rest
    "bystander": ("teacher",),
}
TENANT_WIDE = {"municipality_coordinator", "accountant", "auditor"}


class Relay:
    """Deliver every message the services' outboxes hold to its consumer here, oldest first, until quiet."""

    def __init__(self, apps: dict[str, Any]) -> None:
        from services.documents import tasks as documents_tasks
        from services.finance import tasks as finance_tasks
        from services.identity import tasks as identity_tasks
        from services.notifications import tasks as notifications_tasks
        from services.plans import tasks as plans_tasks

        self.runtimes = {svc: app.extensions["runtime"] for svc, app in apps.items()}
        registrars = {
            "identity": identity_tasks.register,
            "plans": plans_tasks.register,
            "documents": documents_tasks.register,
            "finance": finance_tasks.register,
            "notifications": notifications_tasks.register,
        }
        for svc, runtime in self.runtimes.items():
            registrars[svc](runtime)
        self.seen: set[uuid.UUID] = set()

    def run(self) -> int:
        delivered = 0
        for _ in range(50):
            rows = []
            for runtime in self.runtimes.values():
                with runtime.db.session() as s:
                    rows += [r for r in s.execute(select(runtime.tables.outbox)).all() if r.id not in self.seen]
            if not rows:
                return delivered
            for row in sorted(rows, key=lambda r: r.created_at):
                self.seen.add(row.id)
                if row.task_name in NOT_RELAYED:
                    continue
                task = self.runtimes[row.queue].celery.tasks[row.task_name]
                outcome = task.apply(kwargs={"message": envelope(row)}, throw=True).get()
                assert outcome in ("done", "duplicate"), (row.task_name, outcome)
                delivered += 1
        raise AssertionError("the services kept sending messages to each other")


class AttackWorld:
    """Two tenants: A holds one of every kind of object; B's staff mirror A's roles and own nothing of A's."""

    def __init__(self, apps: dict[str, Any], settings: Any) -> None:
        self.apps = apps
        self.clients = {svc: app.test_client() for svc, app in apps.items()}
        self.identity = World(self.clients["identity"], apps["identity"].extensions["runtime"], settings)
        self.relay = Relay(apps)
        self.ids: dict[str, str] = {}  # tenant A's objects by name
        self.b_ids: dict[str, str] = {}  # tenant B's own objects, for calls that name A's from B's
        self.a: dict[str, dict[str, Any]] = {}  # tenant A's staff by name
        self.b: dict[str, dict[str, Any]] = {}  # tenant B's staff by the same names
        self.admin: dict[str, Any] = {}
        self._keys: dict[str, Any] = {}  # signing keys by kid, loaded

    def rt(self, svc: str) -> Any:
        return self.apps[svc].extensions["runtime"]

    # ---- identity ---------------------------------------------------------------------------------

    def people(self) -> None:
        with self.rt("identity").db.session() as s:
            admin.bootstrap_admin(s, self.rt("identity").outbox, ADMIN_EMAIL, "IKVD", ADMIN_PASSWORD)
        tokens = login(self.clients["identity"], ADMIN_EMAIL, ADMIN_PASSWORD)
        self.admin = {"email": ADMIN_EMAIL, "headers": bearer(tokens["access_token"]), "tokens": tokens}
        a = self.identity.tenant(region="kurzeme", name="Ventspils novads (A)")
        b = self.identity.tenant(region="latgale", name="Ludzas novads (B)")
        a_school, b_school = self.identity.school(a), self.identity.school(b)
        self.ids.update(tenant=a["id"], school=a_school)
        self.b_ids.update(tenant=b["id"], school=b_school)
        for staff, tenant, school in ((self.a, a, a_school), (self.b, b, b_school)):
            for name, roles in STAFF.items():
                grants = [
                    {"role": r, "tenant_id": tenant["id"], **({} if r in TENANT_WIDE else {"school_id": school})}
                    for r in roles
                ]
                staff[name] = self.identity.user(tenant, *grants)
        self.ids["user"] = self.a["teacher"]["id"]
        self.ids["provider"] = self.a["provider"]["id"]
        self.b_ids.update(user=self.b["teacher"]["id"], provider=self.b["provider"]["id"])
        with self.rt("identity").db.session() as s:
            from services.identity.models import RefreshSession, RoleGrant

            grant = s.execute(select(RoleGrant).where(RoleGrant.user_id == uuid.UUID(self.ids["user"]))).scalar_one()
            self.ids["grant"] = str(grant.id)
            session_of = select(RefreshSession.id).where(RefreshSession.user_id == uuid.UUID(self.ids["user"]))
            self.ids["session"] = str(s.execute(session_of.limit(1)).scalar_one())

    def login_again(self, user: dict[str, Any]) -> dict[str, str]:
        """Headers of a new session of this user (for calls that end the session they come with)."""
        return bearer(login(self.clients["identity"], user["email"], user["password"])["access_token"])

    def signing_key(self) -> Any:
        with self.rt("identity").db.session() as s:
            key = keys.current_key(s)
            return key.kid, key.private_pem

    def mint(self, user: dict[str, Any]) -> dict[str, str]:
        """Headers with a new token of this user's claims in a session of its own, signed by identity's key now.

        A call that ends its session (logout, a deactivation) or a key rotation touches no other call's token.
        """
        kid, private_pem = self.signing_key()
        if kid not in self._keys:  # loading a PEM costs ~0.1 s: once per key
            self._keys[kid] = serialization.load_pem_private_key(private_pem.encode(), password=None)
        claims = jwt.decode(user["tokens"]["access_token"], options={"verify_signature": False})
        now = int(time.time())
        claims.update(iat=now, exp=now + 300, sid=str(uuid.uuid4()), jti=uuid.uuid4().hex)
        return bearer(jwt.encode(claims, self._keys[kid], algorithm="RS256", headers={"kid": kid}))

    # ---- the other services -------------------------------------------------------------------------

    def programme(self) -> None:
        """Finance's example settings, published to plans and notifications as finance publishes them."""
        from services.finance import settings_changes

        with self.rt("finance").db.session() as s:
            settings_changes.seed(s, self.rt("finance").outbox)

    def plans(self) -> None:
        c = self.clients["plans"]
        tenant = {"id": self.ids["tenant"], "school": self.ids["school"]}
        self.ids["student"] = make_student(self.rt("plans"), tenant, MINOR_CODE, "2012-03-14", grade=7)
        site = {"preparer": self.a["preparer"], "student": self.ids["student"]}
        plan = ready_plan(c, site, semester=SEMESTER, file=self.application_uploader(self.a["preparer"]))
        pid = self.ids["plan"] = plan["id"]
        self.ids["risk"] = next(r["id"] for r in plan["risks"] if r["category"] == "learning")
        self.ids["measure"] = next(m["id"] for m in plan["measures"] if m["kind"] == "consultation")
        assert act(c, pid, "submit", self.a["preparer"]).status_code == 200
        for who in (self.a["director"], self.a["municipality"], self.admin):
            assert act(c, pid, "approve", who).status_code == 200
        assert agree(c, pid, self.ids["measure"], self.a["provider"], self.a["provider"]).status_code == 201
        made = consult(c, pid, self.ids["measure"], self.a["provider"])
        assert made.status_code == 201, made.json
        self.ids["consultation"] = made.json["id"]
        order = c.post(
            "/orders",
            headers=self.a["director"]["headers"],
            json={
                "school_id": self.ids["school"],
                "kind": "remote_consultations",
                "number": "1-8/20",
                "issued_on": "2026-09-28",
                "valid_from": "2026-10-01",
                "valid_to": "2026-12-22",
                "platform": "Zoom",
                "confirmation_method": "Apstiprinājums e-klasē",
                "plan_ids": [pid],
                "providers": [{"provider_id": self.a["provider"]["id"], "subject": "Psiholoģiskais atbalsts"}],
            },
        )
        assert order.status_code == 201, order.json
        self.ids["order"] = order.json["id"]
        # B's own draft plan for the same person (the code is per tenant): a target B may change
        b_tenant = {"id": self.b_ids["tenant"], "school": self.b_ids["school"]}
        self.b_ids["student"] = make_student(self.rt("plans"), b_tenant, MINOR_CODE, "2012-03-14", grade=7)
        b_plan = ready_plan(
            c,
            {"preparer": self.b["preparer"], "student": self.b_ids["student"]},
            semester=SEMESTER,
            file=self.application_uploader(self.b["preparer"]),
        )
        self.b_ids["plan"] = b_plan["id"]
        self.b_ids["risk"] = next(r["id"] for r in b_plan["risks"] if r["category"] == "learning")
        self.b_ids["measure"] = next(m["id"] for m in b_plan["measures"] if m["kind"] == "consultation")
        data = (
            "Vārds;Uzvārds;Personas kods;Klase;Dzimšanas datums;Deklarētā dzīvesvieta;Faktiskā dzīvesvieta\n"
            "Jānis;Ozols;150508-21002;11;;Ventspils novads;Ventspils novads\n"
        ).encode()
        imp = c.post(
            f"/students/imports?school_id={self.ids['school']}",
            headers=self.a["coordinator"]["headers"],
            data={"file": (io.BytesIO(data), "skoleni.csv")},
            content_type="multipart/form-data",
        )
        assert imp.status_code == 201, imp.json
        self.ids["import"] = imp.json["id"]

    def application_uploader(self, preparer: dict[str, Any]) -> Any:
        """Upload a plan's signed application to documents, as its preparer does, and deliver what follows."""

        def upload(plan: dict[str, Any], signer: str) -> None:
            self.rt("documents").storage.ensure_bucket()
            form = {
                "kind": "application",
                "student_id": plan["student_id"],
                "plan_id": plan["id"],
                "signer": signer,
                "signed_on": "2026-09-02",
                "file": (io.BytesIO(pdf(marker=f"iesniegums {plan['id']}")), "iesniegums.pdf"),
            }
            made = self.clients["documents"].post("/documents", headers=preparer["headers"], data=form)
            assert made.status_code == 201, made.json
            self.ids.setdefault("application_document", made.json["id"])
            self.relay.run()

        return upload

    def documents(self) -> None:
        self.rt("documents").storage.ensure_bucket()
        c = self.clients["documents"]
        expense = self.expense_form(pdf(marker="attack-world"))
        made = c.post("/documents", headers=self.a["coordinator"]["headers"], data=expense)
        assert made.status_code == 201, made.json
        self.ids["document"] = made.json["id"]
        attestation = {
            "kind": "attestation",
            "student_id": self.ids["student"],
            "school_id": self.ids["school"],
            "issuer": "Ventspils novada sociālais dienests",
            "issued_on": "2026-08-20",
            "valid_from": "2026-09-01",
            "valid_to": "2026-12-22",
            "categories": ["meals", "public_transport"],
            "file": (io.BytesIO(pdf(marker="attack-attestation")), "izzina.pdf"),
        }
        made = c.post("/documents", headers=self.a["accountant"]["headers"], data=attestation)
        assert made.status_code == 201, made.json
        self.ids["attestation_document"] = made.json["id"]

    def expense_form(self, data: bytes) -> dict[str, Any]:
        return {
            "kind": "expense_receipt",
            "school_id": self.ids["school"],
            "student_id": self.ids["student"],
            "plan_id": self.ids["plan"],
            "category": "public_transport",
            "month": MONTH,
            "amount": "12.30",
            "file": (io.BytesIO(data), "kvits.pdf"),
        }

    def finance(self) -> None:
        from services.finance.models import Claim

        self.relay.run()
        with self.rt("finance").db.session() as s:
            claim = s.execute(select(Claim).where(Claim.document_id == uuid.UUID(self.ids["document"]))).scalar_one()
            self.ids["claim"] = str(claim.id)
        made = self.clients["finance"].post(
            "/statements",
            headers=self.a["accountant"]["headers"],
            json={"tenant_id": self.ids["tenant"], "month": MONTH},
        )
        assert made.status_code == 201, made.json
        self.ids["statement"] = made.json["id"]

    def notifications(self) -> None:
        from services.notifications.models import InboxItem

        hook = self.clients["notifications"].post(
            "/webhooks",
            headers=self.a["municipality"]["headers"],
            json={"url": "http://127.0.0.1:9/hook", "kinds": ["plan_approved"], "description": "A's integrator"},
        )
        assert hook.status_code == 201, hook.json
        self.ids["webhook"] = hook.json["id"]
        with self.rt("notifications").db.session() as s:
            item = (
                s.execute(select(InboxItem).where(InboxItem.user_id == uuid.UUID(self.a["director"]["id"])))
                .scalars()
                .first()
            )
            assert item is not None, "the director's inbox holds the plan that awaited approval"
            self.ids["inbox_item"] = str(item.id)

    def dead_letters(self) -> None:
        """One dead letter in each service: platform-wide records only a platform admin sees."""
        for svc in SERVICES:
            runtime = self.rt(svc)
            dl_id = uuid.uuid4()
            with runtime.db.session() as s:
                s.execute(
                    insert(runtime.tables.dead_letters).values(
                        id=dl_id,
                        message_id=str(uuid.uuid4()),
                        task_name=f"{svc}.attack_probe",
                        version=1,
                        payload={},
                        error_type="ValueError",
                        error="made by the attack tests",
                        attempts=1,
                        failed_at=utcnow(),
                    )
                )
            self.ids[f"{svc}_dead_letter"] = str(dl_id)


def purge_queues(broker_url: str) -> None:
    """What the world's commits also sent to the broker has no consumer here: drop it for later packages."""
    redis.Redis.from_url(broker_url).delete(*QUEUES)


def empty_databases(apps: dict[str, Any]) -> None:
    for app in apps.values():
        with app.extensions["runtime"].db.session() as s:
            names = s.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
            ).scalars()
            s.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="package")
def apps(identity_app, plans_app, documents_app, finance_app, notifications_app) -> dict[str, Any]:  # type: ignore[no-untyped-def]  # noqa: F811
    return {
        "identity": identity_app,
        "plans": plans_app,
        "documents": documents_app,
        "finance": finance_app,
        "notifications": notifications_app,
    }


@pytest.fixture(scope="package")
def attack_world(apps: dict[str, Any], identity_settings: Any) -> Iterator[AttackWorld]:  # noqa: F811
    """The world every attack test reads; built once, its messages delivered before any test runs."""
    purge_queues(identity_settings.broker_url)
    empty_databases(apps)
    w = AttackWorld(apps, identity_settings)
    w.people()
    w.programme()
    w.relay.run()
    w.plans()
    w.relay.run()
    w.documents()
    w.finance()
    w.relay.run()
    w.notifications()
    w.dead_letters()
    yield w
    purge_queues(identity_settings.broker_url)
