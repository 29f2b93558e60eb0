"""Seeding the country into plans', documents' and finance's own databases with COPY.

Rows are shaped by the services' SQLAlchemy tables: each table's column list comes from its model, and
every row must name exactly those columns (less the ones the database fills itself, such as serial ids),
so a model change stops the seeder with the table and the columns named rather than seeding something
else. Values come from the services' own functions where they decide them: plans' student rules (the
personal code checked, hashed and encrypted), its workflow's approval chain, documents' object keys and
retention, finance's example settings and the timeline texts plans and finance write.

What is not seeded, because no read measured here touches it: plans' agreements, consultations (the KA
form lines), orders, evaluations and audit records; finance's check runs and rule results; the bytes
of the documents (their rows only; list reads never touch S3). Finance's consultation hours and plans'
timeline are seeded, as the overview and the timeline read them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import JSONB

from services.common.contracts.documents import EXPENSE_KINDS

from .national_world import Country, Doc, Plan

Row = dict[str, Any]


class SeedMismatch(RuntimeError):
    """A model and the seeder disagree on a table's columns: fix the seeder for the model change."""


def plain_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def table(model: Any) -> Table:
    """The table of a model class."""
    return cast(Table, model.__table__)


def application_signer(p: Plan) -> str:
    """Who signed a seeded plan's application: an adult (grade 12) signs their own, a parent a minor's."""
    return "student" if (p.student.grade or 0) >= 12 else "parent"


def copy_rows(conn: psycopg.Connection[Any], table: Table, rows: Iterable[Row], db_fills: tuple[str, ...] = ()) -> int:
    """COPY `rows` into `table` (binary); each row names every column of the model except `db_fills`."""
    columns = [c.name for c in table.columns if c.name not in db_fills]
    unknown = set(db_fills) - {c.name for c in table.columns}
    if unknown:
        raise SeedMismatch(f"{table.name}: the model has no columns {sorted(unknown)}")
    # the types of the table as migrated: binary COPY sends each value in exactly its column's type
    found = dict(
        conn.execute(
            "SELECT attname, atttypid::regtype::text FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            (table.name,),
        ).fetchall()
    )
    missing_in_db = [c for c in columns if c not in found]
    if missing_in_db:
        raise SeedMismatch(f"{table.name}: the database (migrations) lacks the model's columns {missing_in_db}")
    wanted = set(columns)
    jsonb = {c.name for c in table.columns if isinstance(c.type, JSONB)}
    count = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types([found[c] for c in columns])
        for row in rows:
            if row.keys() != wanted:
                missing, extra = sorted(wanted - row.keys()), sorted(row.keys() - wanted)
                raise SeedMismatch(f"{table.name}: the seeder lacks columns {missing} and has unknown ones {extra}")
            copy.write_row([Jsonb(row[c]) if c in jsonb and row[c] is not None else row[c] for c in columns])
            count += 1
    return count


def _unused_settings(url: str, service: str) -> dict[str, Any]:
    """The common settings a service's settings object needs; the seeder reaches nothing through them."""
    keys = ("broker_url", "result_backend", "jwt_issuer", "jwt_audience", "jwks_url")
    return {"service": service, "database_url": url, **dict.fromkeys(keys, "")}


def _at(day: date, hours: float = 9) -> datetime:
    from datetime import UTC

    return datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=hours)


class Loader:
    """One service database: COPY table after table in one transaction, then VACUUM ANALYZE, as a
    database in its steady state would have its statistics and visibility map."""

    def __init__(self, url: str, service: str, log: Callable[[str], None]) -> None:
        self.url, self.service, self.log = plain_url(url), service, log
        self.counts: dict[str, int] = {}

    def load(self, tables: list[tuple[Table, Iterable[Row], tuple[str, ...]]]) -> dict[str, int]:
        t0 = time.monotonic()
        spent: dict[str, float] = {}
        with psycopg.connect(self.url) as conn:
            conn.execute("SET synchronous_commit = off")
            # foreign keys are not checked row by row (a restore does the same): the rows agree by
            # construction, and every key is still there for the reads and the planner
            conn.execute("SET session_replication_role = replica")
            for table, rows, fills in tables:
                t1 = time.monotonic()
                self.counts[table.name] = copy_rows(conn, table, rows, fills)
                spent[table.name] = time.monotonic() - t1
        t1 = time.monotonic()
        with psycopg.connect(self.url, autocommit=True) as conn:
            for table, _rows, _fills in tables:
                conn.execute(f"VACUUM ANALYZE {table.name}")
        slowest = ", ".join(f"{k} {v:.1f}s" for k, v in sorted(spent.items(), key=lambda kv: -kv[1])[:3])
        self.log(
            f"{self.service}: {sum(self.counts.values())} rows in {len(tables)} tables in "
            f"{time.monotonic() - t0:.1f}s (slowest: {slowest}; vacuum analyze {time.monotonic() - t1:.1f}s)"
        )
        return self.counts


# ---------------------------------------------------------------------------------------- plans


def seed_plans(
    url: str, country: Country, hash_secret: str, code_key: str, log: Callable[[str], None]
) -> dict[str, int]:
    from services.plans import models as m
    from services.plans import workflow
    from services.plans.settings import PlansSettings
    from services.plans.student_rules import check_student
    from services.plans.students import timeline_row

    settings = PlansSettings(
        **_unused_settings(url, "plans"), person_hash_secret=hash_secret, personal_code_key=code_key
    )
    now = _at(country.today, 7)
    code_hashes: dict[uuid.UUID, str] = {}

    def tenants() -> Iterator[Row]:
        for t in country.tenants:
            yield {"id": t.id, "kind": t.kind, "name": t.name, "region": t.region, "active": True, "revision": 1}

    def schools() -> Iterator[Row]:
        for s in country.schools():
            yield {"id": s.id, "tenant_id": s.tenant.id, "name": s.name, "kind": s.kind, "active": True}

    def users() -> Iterator[Row]:
        def user(uid: uuid.UUID, tenant: uuid.UUID | None, name: str, roles: list[dict[str, str]]) -> Row:
            return {"id": uid, "tenant_id": tenant, "full_name": name, "active": True, "revision": 1, "roles": roles}

        yield user(country.admin_id, None, "IKVD administrators", [{"role": "platform_admin"}])
        for region, uid in country.regional.items():
            yield user(
                uid, None, f"Reģiona koordinators {region}", [{"role": "regional_coordinator", "region": region}]
            )
        for t in country.tenants:
            role = "municipality_coordinator" if t.kind == "municipality" else "accountant"
            yield user(t.coordinator_id, t.id, f"Koordinators {t.name}", [{"role": role, "tenant_id": str(t.id)}])
            for s in t.schools:
                scope = {"tenant_id": str(t.id), "school_id": str(s.id)}
                yield user(
                    s.preparer_id,
                    t.id,
                    f"Pedagogs {s.name}",
                    [{"role": r, **scope} for r in ("teacher", "plan_preparer")],
                )
                yield user(s.coordinator_id, t.id, f"Koordinators {s.name}", [{"role": "school_coordinator", **scope}])

    def students() -> Iterator[Row]:
        for st in country.students:
            school = st.school
            municipality = school.tenant.name
            checked = check_student(
                settings,
                {
                    "first_name": st.first_name,
                    "last_name": st.last_name,
                    "personal_code": st.personal_code,
                    "grade": st.grade,
                    "course": st.course,
                    "declared_municipality": municipality,
                    "actual_municipality": municipality,
                },
            )
            if checked.problems:
                raise SeedMismatch(f"plans' student rules refuse a seeded student: {checked.problems[0]}")
            code_hashes[st.id] = checked.columns["code_hash"]
            created = _at(min(p.prepared_on for p in st.plans) - timedelta(days=7)) if st.plans else now
            yield {
                "id": st.id,
                "tenant_id": school.tenant.id,
                "school_id": school.id,
                **checked.columns,
                "active": True,
                "created_by": school.coordinator_id,
                "created_at": created,
                "updated_at": created,
            }

    def plans() -> Iterator[Row]:
        for p in country.plans:
            financing = country.planned_financing(p)
            yield {
                "id": p.id,
                "code": p.code,
                "tenant_id": p.tenant.id,
                "school_id": p.school.id,
                "student_id": p.student.id,
                "semester": p.semester,
                "semester_start": p.starts_on,
                "semester_end": p.ends_on,
                "status": p.status,
                "pending_level": p.pending_level,
                "preparer_id": p.school.preparer_id,
                "prepared_on": p.prepared_on,
                "preparation_hours": p.preparation_hours,
                "planned_financing": financing,
                "settings_revision": 1,
                "application_signer": application_signer(p),
                "application_signed_on": p.prepared_on - timedelta(days=2),
                "application_document_id": country.documents(p)[0].id,
                "application_version": 1,  # the uploaded application plans accepted
                "paid_so_far": country.paid_so_far(p),
                "paid_revision": 1 if p.started_on else 0,
                "suspended_reason": "Izglītojamais slimo / The student is ill" if p.status == "suspended" else None,
                "revision": 1 + len(p.transitions),
                "created_at": p.created_at,
                "updated_at": p.created_at + timedelta(days=len(p.transitions) * 2),
            }

    def risks() -> Iterator[Row]:
        for p in country.plans:
            for i, (rid, category) in enumerate(p.risks):
                yield {
                    "id": rid,
                    "plan_id": p.id,
                    "category": category,
                    "justification": f"Pamatojums: {category} ({p.code}).",
                    "created_at": p.created_at + timedelta(minutes=i),
                }

    def measures() -> Iterator[Row]:
        for p in country.plans:
            for i, ms in enumerate(p.measures):
                yield {
                    "id": ms.id,
                    "plan_id": p.id,
                    "kind": ms.kind,
                    "provider_type": ms.provider_type,
                    "planned_hours": ms.planned_hours,
                    "category": ms.category,
                    "planned_amount": ms.planned_amount,
                    "created_at": p.created_at + timedelta(minutes=10 + i),
                }

    def measure_risks() -> Iterator[Row]:
        for p in country.plans:
            for ms in p.measures:
                yield {"measure_id": ms.id, "risk_id": ms.risk_id}

    def transitions() -> Iterator[Row]:
        for p in country.plans:
            for i, (action, before, after, level) in enumerate(p.transitions):
                yield {
                    "id": uuid.UUID(int=p.id.int ^ (i + 1), version=4),
                    "plan_id": p.id,
                    "at": _transition_at(p, i),
                    "actor_id": p.school.preparer_id if action == "submit" else p.school.coordinator_id,
                    "action": action,
                    "from_status": before,
                    "to_status": after,
                    "level": level,
                    "comment": "Pārskatīt pasākumus" if action in ("review", "suspend") else None,
                }

    def timeline() -> Iterator[Row]:
        from services.finance.checks import VERDICT_EN, VERDICT_LV

        for st in country.students:
            row = timeline_row(st.id, st.school.tenant.id, "student_created")
            row["at"] = _at(min((p.prepared_on for p in st.plans), default=country.today) - timedelta(days=7))
            yield row
        for p in country.plans:
            base = {"tenant_id": p.tenant.id, "student_id": p.student.id, "plan_id": p.id, "source": "plans"}
            yield {
                **base,
                "at": p.created_at,
                "source_key": f"plan_created:{p.id}:{p.n:032x}",
                "kind": "plan_created",
                "summary_lv": f"Izveidots plāns {p.code}",
                "summary_en": f"Plan {p.code} created",
                "details": {},
            }
            for i, (action, before, after, level) in enumerate(p.transitions):
                yield {
                    **base,
                    "at": _transition_at(p, i),
                    "source_key": f"plan_{action}:{p.id}:{i:032x}",
                    "kind": f"plan_{action}",
                    "summary_lv": f"Plāns {p.code}: {workflow.STATUS_LV[before]} → {workflow.STATUS_LV[after]}",
                    "summary_en": f"Plan {p.code}: {before.replace('_', ' ')} → {after.replace('_', ' ')}",
                    "details": {"level": level} if level else {},
                }
            for d in country.documents(p):
                if d.claim_id is None or d.status not in VERDICT_LV:
                    continue
                month = d.month.strftime("%Y-%m") if d.month else ""
                lv, en = VERDICT_LV[d.status], VERDICT_EN[d.status]
                yield {
                    **base,
                    "at": d.created_at + timedelta(minutes=2),
                    "source": "finance",
                    "source_key": f"claim:{d.claim_id}:run:1",
                    "kind": "expense_checked",
                    "summary_lv": f"Izdevumi “{d.category}” par {month} ({d.amount} EUR): {lv}",
                    "summary_en": f"Expense '{d.category}' for {month} ({d.amount} EUR): {en}",
                    "details": {"document_id": str(d.id), "claim_id": str(d.claim_id), "verdict": d.status},
                }

    return Loader(url, "plans", log).load(
        [
            (table(m.TenantRM), tenants(), ()),
            (table(m.SchoolRM), schools(), ()),
            (table(m.UserRM), users(), ()),
            (table(m.Student), students(), ()),
            (table(m.Plan), plans(), ()),
            (table(m.Risk), risks(), ()),
            (table(m.Measure), measures(), ()),
            (table(m.MeasureRisk), measure_risks(), ()),
            (table(m.PlanTransition), transitions(), ()),
            (table(m.TimelineEvent), timeline(), ("id",)),
        ]
    )


def _transition_at(p: Plan, i: int) -> datetime:
    return p.created_at + timedelta(days=2 * (i + 1), hours=i)


# ---------------------------------------------------------------------------------------- documents


def seed_documents(url: str, country: Country, log: Callable[[str], None]) -> dict[str, int]:
    from services.documents import models as m
    from services.documents.settings import DocumentsSettings
    from services.documents.uploads import encode_changes, object_key

    retention = DocumentsSettings(**_unused_settings(url, "documents"))

    def metadata(p: Plan, d: Doc) -> Row:
        values: Row = {"student_id": p.student.id, "plan_id": p.id, "category": d.category, "month": d.month}
        values.update(amount=d.amount, issued_on=d.issued_on, valid_from=d.valid_from, valid_to=d.valid_to)
        if d.kind == "attestation":
            values.update(issuer=f"{p.tenant.name} sociālais dienests", categories=d.categories)
        return {k: v for k, v in values.items() if v is not None}

    def all_docs() -> Iterator[tuple[Plan, Doc]]:
        for p in country.plans:
            for d in country.documents(p):
                yield p, d

    def documents() -> Iterator[Row]:
        for p, d in all_docs():
            yield {
                "id": d.id,
                "tenant_id": p.tenant.id,
                "school_id": p.school.id,
                "region": p.tenant.region,
                "kind": d.kind,
                "state": m.ACTIVE,
                "status": d.status,
                "student_id": p.student.id,
                "plan_id": p.id,
                "category": d.category,
                "month": d.month,
                "amount": d.amount,
                "issued_on": d.issued_on,
                "valid_from": d.valid_from,
                "valid_to": d.valid_to,
                "issuer": f"{p.tenant.name} sociālais dienests" if d.kind == "attestation" else None,
                "signer": ("student" if (p.student.grade or 0) >= 12 else "parent")
                if d.kind == "application"
                else None,
                "signed_on": p.prepared_on - timedelta(days=2) if d.kind == "application" else None,
                "categories": d.categories,
                "lines": None,  # one claim per document, from its own fields
                "current_version": 1,
                "version_seq": 1,
                "retain_until": d.created_at.date() + timedelta(days=retention.retention_for(d.kind)),
                "uploaded_by": d.uploaded_by,
                "created_at": d.created_at,
                "updated_at": d.created_at + timedelta(minutes=2),
                "deleted_at": None,
                "deleted_by": None,
            }

    def versions() -> Iterator[Row]:
        for p, d in all_docs():
            yield {
                "id": uuid.UUID(int=d.id.int ^ 1, version=4),
                "document_id": d.id,
                "tenant_id": p.tenant.id,
                "number": 1,
                "state": m.STORED,
                "object_key": object_key(p.tenant.id, d.created_at, d.id, 1),
                "s3_version_id": None,
                "filename": f"{d.kind}-{(d.month or d.created_at).strftime('%Y-%m')}.pdf",
                "media_type": "application/pdf",
                "size": 20_000 + int(d.sha256[:5], 16) % 180_000,
                "sha256": d.sha256,
                "duplicate_of": [],
                "changes": encode_changes(metadata(p, d)),
                "uploaded_by": d.uploaded_by,
                "created_at": d.created_at,
                "stored_at": d.created_at + timedelta(seconds=1),
            }

    def status_changes() -> Iterator[Row]:
        for p, d in all_docs():
            base = {"document_id": d.id, "tenant_id": p.tenant.id, "version": 1, "applied": True}
            yield {
                **base,
                "from_status": None,
                "to_status": m.RECEIVED,
                "source": "upload",
                "reasons": [],
                "message_id": None,
                "actor_id": d.uploaded_by,
                "at": d.created_at,
            }
            if d.status != m.RECEIVED:
                reasons = [] if d.status in (m.ACCEPTED, m.CHECKING) else [{"rule_id": "amount_within_plan"}]
                yield {
                    **base,
                    "from_status": m.RECEIVED,
                    "to_status": d.status,
                    "source": "finance",
                    "reasons": reasons,
                    "message_id": uuid.UUID(int=d.id.int ^ 2, version=4).hex,
                    "actor_id": None,
                    "at": d.created_at + timedelta(minutes=2),
                }

    return Loader(url, "documents", log).load(
        [
            (table(m.Document), documents(), ()),
            (table(m.DocumentVersion), versions(), ()),
            (table(m.StatusChange), status_changes(), ("id",)),
        ]
    )


# ---------------------------------------------------------------------------------------- finance


def seed_finance(
    url: str, country: Country, code_hash: Callable[[str], str], log: Callable[[str], None]
) -> dict[str, int]:
    """Finance's read models, attestations, claims, hours, reservations and budget events (settings
    are seeded before, by finance's own seed function)."""
    from services.finance import models as m

    now = _at(country.today, 6)

    def tenants() -> Iterator[Row]:
        for t in country.tenants:
            yield {
                "id": t.id,
                "kind": t.kind,
                "name": t.name,
                "registration_number": f"{90000000000 + t.n}",
                "region": t.region,
                "student_count": t.student_count,
                "active": True,
                "revision": 1,
            }

    def schools() -> Iterator[Row]:
        for s in country.schools():
            yield {
                "id": s.id,
                "tenant_id": s.tenant.id,
                "name": s.name,
                "kind": s.kind,
                "student_count": s.student_count,
                "active": True,
            }

    def plans() -> Iterator[Row]:
        for p in country.plans:
            yield {
                "id": p.id,
                "revision": 1 + len(p.transitions),
                "code": p.code,
                "tenant_id": p.tenant.id,
                "school_id": p.school.id,
                "student_id": p.student.id,
                "student_key": code_hash(p.student.personal_code),
                "semester": p.semester,
                "semester_start": p.starts_on,
                "semester_end": p.ends_on,
                "status": p.status,
                "prepared_on": p.prepared_on,
                "preparation_hours": p.preparation_hours,
                "planned_financing": country.planned_financing(p),
                "measures": [
                    {
                        "measure_id": str(ms.id),
                        "kind": ms.kind,
                        "provider_type": ms.provider_type,
                        "planned_hours": None if ms.planned_hours is None else str(ms.planned_hours),
                        "category": ms.category,
                        "planned_amount": None if ms.planned_amount is None else str(ms.planned_amount),
                    }
                    for ms in p.measures
                ],
                "started_on": p.started_on,
                "paid_so_far": country.paid_so_far(p),
                "paid_revision": 1 if p.started_on else 0,
                "updated_at": p.created_at + timedelta(days=len(p.transitions) * 2),
            }

    def attestations() -> Iterator[Row]:
        for p in country.plans:
            for d in country.documents(p):
                if d.kind != "attestation":
                    continue
                assert d.issued_on and d.valid_from and d.valid_to
                yield {
                    "id": uuid.UUID(int=d.id.int ^ 3, version=4),
                    "document_id": d.id,
                    "version": 1,
                    "tenant_id": p.tenant.id,
                    "school_id": p.school.id,
                    "student_id": p.student.id,
                    "plan_id": p.id,
                    "issuer": f"{p.tenant.name} sociālais dienests",
                    "issued_on": d.issued_on,
                    "valid_from": d.valid_from,
                    "valid_to": d.valid_to,
                    "semester": p.semester,
                    "categories": d.categories,
                    "sha256": d.sha256,
                    "replaced_by": None,
                    "registered_at": d.created_at + timedelta(minutes=1),
                }

    def claims() -> Iterator[Row]:
        for p in country.plans:
            key = code_hash(p.student.personal_code)
            for d in country.documents(p):
                if d.claim_id is None or d.kind not in EXPENSE_KINDS:
                    continue
                checked = d.status in (m.ACCEPTED, m.NEEDS_FIX, m.REJECTED)
                yield {
                    "id": d.claim_id,
                    "document_id": d.id,
                    "version": 1,
                    "line": 1,
                    "tenant_id": p.tenant.id,
                    "school_id": p.school.id,
                    "plan_id": p.id,
                    "student_id": p.student.id,
                    "student_key": key,
                    "kind": d.kind,
                    "category": d.category,
                    "month": d.month,
                    "amount": d.amount,
                    "sha256": d.sha256,
                    "duplicate_in_tenant": False,
                    "uploaded_by": d.uploaded_by,
                    "uploaded_at": d.created_at,
                    "status": d.status if checked else m.CHECKING,
                    "superseded": False,
                    "settings_revision": 1 if checked else None,
                    "runs": 1 if checked else 0,
                    "checked_at": d.created_at + timedelta(minutes=2) if checked else None,
                    "created_at": d.created_at + timedelta(seconds=30),
                }

    def consultations() -> Iterator[Row]:
        for p in country.plans:
            for h in country.hours(p):
                yield {
                    "id": h.id,
                    "tenant_id": p.tenant.id,
                    "school_id": p.school.id,
                    "plan_id": p.id,
                    "measure_id": h.measure.id,
                    "provider_type": h.measure.provider_type,
                    "held_on": h.held_on,
                    "hours": h.hours,
                    "mode": "in_person",
                    "rate": h.rate,
                    "amount": h.amount,
                    "settings_revision": 1,
                    "recorded_at": _at(h.held_on, 15),
                }

    held_states = ("approved", "in_progress", "under_review")
    reservations_of: list[tuple[Plan, Row]] = []

    def reservation(p: Plan) -> Row | None:
        """As budgets.reconcile leaves it: held while approved and running in its semester, else released."""
        if not any(t[1] == "approved" or t[2] == "approved" for t in p.transitions):
            return None  # never approved: nothing was reserved
        planned, used = country.planned_financing(p), country.paid_so_far(p)
        hold = max(planned, used)
        if p.semester == country.current and p.status in held_states:
            state, reason, reserved, released = (
                "held",
                "approved" if p.status == "approved" else "in_progress",
                hold,
                Decimal("0.00"),
            )
        else:
            reason = p.status if p.semester == country.current else "semester_ended"
            state, reserved, released = "released", used, max(hold - used, Decimal("0.00"))
        return {
            "plan_id": p.id,
            "tenant_id": p.tenant.id,
            "semester": p.semester,
            "reserved": reserved,
            "released": released,
            "state": state,
            "reason": reason,
            "updated_at": p.created_at + timedelta(days=len(p.transitions) * 2),
        }

    def reservations() -> Iterator[Row]:
        for p in country.plans:
            row = reservation(p)
            if row is not None:
                reservations_of.append((p, row))
                yield row

    def budget_events() -> Iterator[Row]:
        for p, r in reservations_of:
            base = {"plan_id": p.id, "tenant_id": p.tenant.id, "semester": p.semester}
            approved_at = p.created_at + timedelta(days=2 * len(p.transitions))
            yield {
                **base,
                "kind": "reserve",
                "amount": r["reserved"] + r["released"],
                "reason": "approved",
                "at": approved_at,
            }
            if r["state"] == "released":
                yield {**base, "kind": "release", "amount": r["released"], "reason": r["reason"], "at": now}

    return Loader(url, "finance", log).load(
        [
            (table(m.TenantRM), tenants(), ()),
            (table(m.SchoolRM), schools(), ()),
            (table(m.PlanRM), plans(), ()),
            (table(m.Attestation), attestations(), ()),
            (table(m.Claim), claims(), ()),
            (table(m.Consultation), consultations(), ()),
            (table(m.Reservation), reservations(), ()),
            (table(m.BudgetEvent), budget_events(), ("id",)),
        ]
    )
