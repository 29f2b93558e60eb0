"""The country benchmark 2 reads: tenants, schools, staff, students, plans with risks and measures, and
each plan's documents, claims and consultation hours.

Everything comes from one integer seed, plan by plan from a generator of its own, so each seeding
process (plans, documents, finance) derives the same ids and amounts without sharing memory, and the
three databases agree on them as the services' messages would have made them agree. A fresh seed each
run: nothing is cached between runs.

Sizes are skewed as the country is: tenant `i` weighs 1 / (1 + i/25), so the largest municipality has
about 1.3 % of all students and the smallest a few dozen; the benchmark reads the largest ones.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.common.auth import REGIONS
from services.common.contracts.documents import COMPENSATION_CATEGORIES
from services.common.contracts.plans import PROVIDER_TYPES
from services.finance import programme
from services.plans import workflow

CENT = Decimal("0.01")
RISK_CATEGORIES = ("learning", "social_health", "economic", "family")
CURRENT_STATUSES = (  # (status, share) of this semester's plans
    ("draft", 8),
    ("in_approval", 10),
    ("approved", 12),
    ("in_progress", 62),
    ("suspended", 3),
    ("under_review", 3),
    ("inactive", 2),
)
PREVIOUS_STATUSES = (("in_progress", 88), ("suspended", 5), ("inactive", 4), ("under_review", 3))
# expense outcomes of finance's checks (accepted, needs fixing, rejected); this month's are still being checked
VERDICTS = (("accepted", 88), ("needs_fix", 8), ("rejected", 4))
FIXED_KINDS = ("application", "attestation", "agreement")
EXPENSE_KIND = {"public_transport": "transport_ticket", "special_transport": "invoice", "accommodation": "invoice"}
FIRST_NAMES = ("Anna", "Jānis", "Elīza", "Roberts", "Marta", "Kristers", "Sofija", "Markuss", "Alise", "Ralfs")
LAST_NAMES = ("Bērziņš", "Kalniņa", "Ozoliņš", "Liepiņa", "Krūmiņš", "Vītola", "Zariņš", "Jansone", "Pētersons")


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([s for s, _ in weighted], [w for _, w in weighted])[0]


def _money(value: Decimal | float | int) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def month_starts(start: date, end: date) -> list[date]:
    out, day = [], start.replace(day=1)
    while day <= end:
        out.append(day)
        day = (day + timedelta(days=32)).replace(day=1)
    return out


@dataclass(frozen=True)
class Scale:
    tenants: int
    students: int
    plans: int
    documents: int


NATIONAL = Scale(tenants=500, students=25_000, plans=22_000, documents=200_000)
TENTH = Scale(tenants=50, students=2_500, plans=2_200, documents=20_000)


@dataclass(slots=True)
class School:
    id: uuid.UUID
    tenant: Tenant
    name: str
    kind: str  # general | vocational (the school type of the semesters)
    student_count: int
    preparer_id: uuid.UUID  # a teacher who prepares plans
    coordinator_id: uuid.UUID  # the school coordinator
    students: list[Student] = field(default_factory=list)


@dataclass(slots=True)
class Tenant:
    n: int
    id: uuid.UUID
    kind: str  # municipality | vocational_school
    name: str
    region: str
    student_count: int
    coordinator_id: uuid.UUID  # municipality coordinator, or the vocational school's accountant
    schools: list[School] = field(default_factory=list)


@dataclass(slots=True)
class Student:
    n: int
    id: uuid.UUID
    school: School
    first_name: str
    last_name: str
    personal_code: str  # 11 digits, old format (valid check digit); only plans' seeder sees it
    birth_date: date
    grade: int | None
    course: int | None
    plans: list[Plan] = field(default_factory=list)


@dataclass(slots=True)
class Measure:
    id: uuid.UUID
    kind: str
    provider_type: str | None
    planned_hours: Decimal | None
    category: str | None
    planned_amount: Decimal | None
    risk_id: uuid.UUID


@dataclass(slots=True)
class Plan:
    n: int
    id: uuid.UUID
    code: str
    student: Student
    semester: str
    starts_on: date
    ends_on: date
    status: str
    pending_level: str | None
    prepared_on: date
    preparation_hours: Decimal
    created_at: datetime
    risks: list[tuple[uuid.UUID, str]]  # (id, category)
    measures: list[Measure]
    transitions: list[tuple[str, str, str, str | None]]  # (action, from, to, level)
    started_on: date | None  # the first agreement: approved -> in_progress

    @property
    def tenant(self) -> Tenant:
        return self.student.school.tenant

    @property
    def school(self) -> School:
        return self.student.school


@dataclass(slots=True)
class Doc:
    """A document of a plan; an expense one carries its claim (finance) and check event (plans' timeline)."""

    id: uuid.UUID
    kind: str
    status: str
    created_at: datetime
    month: date | None
    category: str | None
    amount: Decimal | None
    sha256: str
    uploaded_by: uuid.UUID
    valid_from: date | None = None
    valid_to: date | None = None
    issued_on: date | None = None
    categories: list[str] = field(default_factory=list)
    claim_id: uuid.UUID | None = None  # expense documents only


@dataclass(slots=True)
class Hours:
    """Consultation hours of one measure in one month (finance's consultations)."""

    id: uuid.UUID
    measure: Measure
    held_on: date
    hours: Decimal
    rate: Decimal
    amount: Decimal


@dataclass
class Country:
    seed: int
    scale: Scale
    today: date
    current: str  # semester codes
    previous: str
    semesters: dict[tuple[str, str], tuple[date, date]]  # (code, school type) -> (starts, ends)
    rates: dict[str, Decimal]
    preparation_rate: Decimal
    tenants: list[Tenant]
    students: list[Student]
    plans: list[Plan]
    admin_id: uuid.UUID
    regional: dict[str, uuid.UUID]  # region -> its regional coordinator
    docs_per_plan: float  # tuned so the documents add up to the scale's count
    _docs: dict[int, list[Doc]] = field(default_factory=dict, repr=False)
    _hours: dict[int, list[Hours]] = field(default_factory=dict, repr=False)

    def schools(self) -> Iterator[School]:
        for t in self.tenants:
            yield from t.schools

    # ---- per plan, from the plan's own generator (the same in every process) --------------------

    def months(self, plan: Plan) -> list[date]:
        """The months of the plan's semester up to this one, in which it was running."""
        if plan.started_on is None:
            return []
        return [m for m in month_starts(plan.started_on, min(plan.ends_on, self.today)) if m <= self.today]

    def documents(self, plan: Plan) -> list[Doc]:
        """The plan's documents: the application, the attestation, agreements, and month by month the
        expense documents of each compensation, a timesheet per consultation and the KA form."""
        if plan.n not in self._docs:
            self._docs[plan.n] = self._documents(plan)
        return self._docs[plan.n]

    def _documents(self, plan: Plan) -> list[Doc]:
        rng = random.Random(self.seed * 1_000_003 + plan.n)
        school = plan.school
        uploader = school.coordinator_id
        docs: list[Doc] = []

        def add(kind: str, at: datetime, **values: Any) -> Doc:
            doc = Doc(
                id=_uuid(rng),
                kind=kind,
                status=values.pop("status", "received"),
                created_at=at,
                month=values.pop("month", None),
                category=values.pop("category", None),
                amount=values.pop("amount", None),
                sha256=f"{rng.getrandbits(256):064x}",
                uploaded_by=uploader,
                **values,
            )
            docs.append(doc)
            return doc

        at = datetime.combine(plan.prepared_on, datetime.min.time(), UTC) + timedelta(hours=9)
        add("application", at - timedelta(days=2))
        compensations = [m for m in plan.measures if m.kind == "compensation"]
        if compensations and plan.started_on is not None:
            add(
                "attestation",
                at - timedelta(days=5),
                status="accepted",
                issued_on=plan.prepared_on - timedelta(days=5),
                valid_from=plan.starts_on,
                valid_to=plan.ends_on,
                categories=sorted({m.category for m in compensations if m.category}),
            )
        consultations = [m for m in plan.measures if m.kind == "consultation"]
        if plan.started_on is not None:
            for _ in consultations:
                add("agreement", datetime.combine(plan.started_on, datetime.min.time(), UTC) + timedelta(hours=10))
        this_month = self.today.replace(day=1)
        for month in self.months(plan):
            filed = datetime.combine(month, datetime.min.time(), UTC) + timedelta(days=rng.randint(3, 20), hours=11)
            if month == this_month:
                filed = datetime.combine(self.today, datetime.min.time(), UTC) - timedelta(days=rng.randint(0, 6))
            for m in compensations:
                if rng.random() > self.docs_per_plan:
                    continue
                status = rng.choice(("received", "queued")) if month == this_month else _pick(rng, VERDICTS)
                amount = _money(
                    max(Decimal("1.00"), (m.planned_amount or Decimal(0)) / 4 * Decimal(rng.randint(5, 12)) / 10)
                )
                doc = add(
                    EXPENSE_KIND.get(m.category or "", "expense_receipt"),
                    filed,
                    status=status,
                    month=month,
                    category=m.category,
                    amount=amount,
                )
                doc.claim_id = _uuid(rng)
            if consultations and rng.random() <= self.docs_per_plan:
                status = "received" if month == this_month else "accepted"
                hours = sum((m.planned_hours or Decimal(0) for m in consultations), Decimal(0)) / 4
                doc = add(
                    "timesheet", filed, status=status, month=month, category="consultations", amount=_money(hours * 20)
                )
                doc.claim_id = _uuid(rng)
                add("ka_form", filed, status="received", month=month)
        return docs

    def hours(self, plan: Plan) -> list[Hours]:
        """Consultation hours delivered month by month on each consultation measure of a started plan."""
        if plan.n not in self._hours:
            self._hours[plan.n] = self._hours_of(plan)
        return self._hours[plan.n]

    def _hours_of(self, plan: Plan) -> list[Hours]:
        rng = random.Random(self.seed * 2_000_003 + plan.n)
        out = []
        for month in self.months(plan):
            for m in plan.measures:
                if m.kind != "consultation" or m.provider_type is None:
                    continue
                hours = Decimal(rng.randint(2, 8))
                rate = self.rates[m.provider_type]
                out.append(
                    Hours(_uuid(rng), m, month + timedelta(days=rng.randint(2, 24)), hours, rate, _money(hours * rate))
                )
        return out

    def planned_financing(self, plan: Plan) -> Decimal:
        """As plans computes it: the measures plus preparation hours at the rate in force."""
        total = plan.preparation_hours * self.preparation_rate
        for m in plan.measures:
            if m.kind == "consultation" and m.provider_type and m.planned_hours is not None:
                total += m.planned_hours * self.rates[m.provider_type]
            elif m.planned_amount is not None:
                total += m.planned_amount
        return _money(total)

    def paid_so_far(self, plan: Plan) -> Decimal:
        """As finance computes it: accepted compensations, delivered hours, and preparation once started."""
        if plan.started_on is None:
            return Decimal("0.00")
        claims = sum(
            (
                d.amount or Decimal(0)
                for d in self.documents(plan)
                if d.status == "accepted" and d.category in COMPENSATION_CATEGORIES
            ),
            Decimal(0),
        )
        hours = sum((h.amount for h in self.hours(plan)), Decimal(0))
        return _money(claims + hours + plan.preparation_hours * self.preparation_rate)


def build(scale: Scale, seed: int, today: date | None = None) -> Country:
    """The whole country from `seed`; cheap enough (a second or two) to build again in every process."""
    rng = random.Random(seed)
    today = today or date.today()
    settings = programme.normalised(programme.EXAMPLE_SETTINGS)
    semesters = {
        (s["code"], s["school_type"]): (date.fromisoformat(s["starts_on"]), date.fromisoformat(s["ends_on"]))
        for s in settings["semesters"]
    }
    general = sorted((v[0], code) for (code, kind), v in semesters.items() if kind == "general")
    started = [code for starts, code in general if starts <= today]
    if len(started) < 2:
        raise RuntimeError(f"the example settings have no two general semesters begun by {today}")
    current, previous = started[-1], started[-2]
    rates = {k: Decimal(v) for k, v in settings["consultation_rates"].items()}
    preparation_rate = Decimal(settings["preparation_rate"])

    weights = [1 / (1 + i / 25) for i in range(scale.tenants)]
    total_weight = sum(weights)
    tenants: list[Tenant] = []
    students: list[Student] = []
    counts = [max(5, int(scale.students * w / total_weight)) for w in weights]
    for i in range(scale.students - sum(counts)):  # what flooring left over, one each to the largest
        counts[i % len(counts)] += 1
    for i, count in enumerate(counts):
        vocational = i % 10 == 9
        tenant = Tenant(
            n=i,
            id=_uuid(rng),
            kind="vocational_school" if vocational else "municipality",
            name=f"{'Tehnikums' if vocational else 'Novads'} {i:03d}",
            region=REGIONS[i % len(REGIONS)],
            student_count=count * 12,  # every student, not only those with support plans
            coordinator_id=_uuid(rng),
        )
        n_schools = 1 if vocational else max(1, round(count / 70))
        shares = [1 / (1 + j) for j in range(n_schools)]
        for j in range(n_schools):
            tenant.schools.append(
                School(
                    id=_uuid(rng),
                    tenant=tenant,
                    name=tenant.name if vocational else f"Skola {i:03d}-{j}",
                    kind="vocational" if vocational else "general",
                    student_count=0,
                    preparer_id=_uuid(rng),
                    coordinator_id=_uuid(rng),
                )
            )
        for _ in range(count):
            school = rng.choices(tenant.schools, shares)[0]
            grade = None if vocational else rng.randint(1, 12)
            course = rng.randint(1, 4) if vocational else None
            age = 6 + grade if grade is not None else 15 + (course or 1)
            born = date(today.year - age, 1, 1) + timedelta(days=rng.randint(0, 364))
            student = Student(
                n=len(students),
                id=_uuid(rng),
                school=school,
                first_name=rng.choice(FIRST_NAMES),
                last_name=rng.choice(LAST_NAMES),
                personal_code=f"{born:%d%m%y}2",  # the century digit of the 2000s; serial and check below
                birth_date=born,
                grade=grade,
                course=course,
            )
            school.students.append(student)
            school.student_count += 12
            students.append(student)
        tenants.append(tenant)
    _personal_codes(students)

    pairs = rng.sample(range(len(students) * 2), min(scale.plans, len(students) * 2))
    plans: list[Plan] = []
    for slot in sorted(pairs):
        student = students[slot // 2]
        semester = current if slot % 2 else previous
        plans.append(_plan(rng, len(plans), student, semester, semesters, current, today))
        student.plans.append(plans[-1])

    country = Country(
        seed=seed,
        scale=scale,
        today=today,
        current=current,
        previous=previous,
        semesters=semesters,
        rates=rates,
        preparation_rate=preparation_rate,
        tenants=tenants,
        students=students,
        plans=plans,
        admin_id=_uuid(rng),
        regional={r: _uuid(rng) for r in REGIONS},
        docs_per_plan=1.0,
    )
    # the documents every plan has (application, attestation, agreements) stay; the monthly ones are
    # thinned so that the total comes out near the scale's count (estimated on a sample of plans)
    sample = plans[:: max(1, len(plans) // 2000)]
    docs = [d for p in sample for d in country.documents(p)]
    fixed = sum(1 for d in docs if d.kind in FIXED_KINDS) * len(plans) / len(sample)
    monthly = (len(docs) * len(plans) / len(sample)) - fixed
    country.docs_per_plan = min(1.0, max(0.05, (scale.documents - fixed) / max(1.0, monthly)))
    country._docs.clear()  # made with every monthly document; made again thinned when asked
    return country


def _personal_codes(students: list[Student]) -> None:
    """Old-format codes (DDMMYY-CNNNX) with the check digit of python-stdnum; unique by birth date and serial."""
    from stdnum.lv import pvn

    seen: set[str] = set()
    for s in students:
        serial = s.n % 1000
        while f"{s.personal_code}{serial:03d}" in seen:  # the same birth date and serial: the next serial
            serial = (serial + 1) % 1000
        head = f"{s.personal_code}{serial:03d}"
        seen.add(head)
        s.personal_code = head + pvn.calc_check_digit_pers(head)


def _plan(
    rng: random.Random,
    n: int,
    student: Student,
    semester: str,
    semesters: dict[tuple[str, str], tuple[date, date]],
    current: str,
    today: date,
) -> Plan:
    school = student.school
    starts, ends = semesters[(semester, school.kind)]
    status = _pick(rng, CURRENT_STATUSES if semester == current else PREVIOUS_STATUSES)
    prepared = starts + timedelta(days=rng.randint(3, 25))
    risks = [(_uuid(rng), c) for c in rng.sample(RISK_CATEGORIES, rng.randint(1, 3))]
    measures = []
    for _ in range(rng.randint(1, 3)):
        risk = rng.choice(risks)
        measures.append(
            Measure(
                _uuid(rng), "consultation", rng.choice(PROVIDER_TYPES), Decimal(rng.randint(4, 20)), None, None, risk[0]
            )
        )
    economic = [r for r in risks if r[1] == "economic"]
    if economic:
        for category in rng.sample(COMPENSATION_CATEGORIES, rng.randint(1, 2)):
            amount = _money(rng.randint(40, 300))
            measures.append(Measure(_uuid(rng), "compensation", None, None, category, amount, economic[0][0]))
    levels = workflow.chain(school.tenant.kind)
    chain: list[tuple[str, str, str, str | None]] = [("submit", "draft", "in_approval", levels[0])]
    for i, level in enumerate(levels):
        last = i == len(levels) - 1
        chain.append(("approve", "in_approval", "approved" if last else "in_approval", level))
    transitions: list[tuple[str, str, str, str | None]] = []
    pending = None
    started_on = None
    if status == "in_approval":
        done = rng.randint(0, len(levels) - 1)
        transitions = chain[: 1 + done]
        pending = levels[done]
    elif status in ("approved", "in_progress", "suspended", "under_review", "inactive"):
        transitions = list(chain)
        if status != "approved":
            started_on = min(prepared + timedelta(days=rng.randint(10, 30)), today)
            transitions.append(("start", "approved", "in_progress", None))
        if status == "inactive":  # deleted before it started: nothing was paid
            started_on = None
            transitions = [*chain, ("delete", "approved", "inactive", None)]
        elif status in ("suspended", "under_review"):
            action = "suspend" if status == "suspended" else "review"
            transitions.append((action, "in_progress", status, None))
    compact = "".join(ch for ch in semester if ch.isalnum())
    return Plan(
        n=n,
        id=_uuid(rng),
        code=f"IAP-{compact}-{n:06X}",
        student=student,
        semester=semester,
        starts_on=starts,
        ends_on=ends,
        status=status,
        pending_level=pending,
        prepared_on=prepared,
        preparation_hours=Decimal(rng.randint(2, 6)),
        created_at=datetime.combine(prepared, datetime.min.time(), UTC) + timedelta(hours=8),
        risks=risks,
        measures=measures,
        transitions=transitions,
        started_on=started_on,
    )
