"""Programme settings: rates, caps, semesters, deadlines and budgets, by revision with an effective-from date.

A revision holds the whole set. The revision in force on a day is the newest one whose effective-from date
is on or before that day, so a later decision supersedes earlier ones from its date on, and the history
of every earlier day stays readable. Unit-cost rates, caps and deadlines are not in public sources
(DOMAIN.md, "Open"): the first revision ships EXAMPLE values and says so (`example_values`).
"""

from __future__ import annotations

import copy
import uuid
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.contracts.documents import COMPENSATION_CATEGORIES
from services.common.errors import ApiError

from .models import SettingsRevision

CENT = Decimal("0.01")
PROVIDER_TYPES = (
    "teacher",
    "psychologist",
    "social_pedagogue",
    "teachers_assistant",
    "special_education_teacher",
    "sign_language_interpreter",
    "assistant",
    "occupational_therapist",
    "speech_therapist",
)
CAP_PERIODS = ("per_day", "per_month", "per_semester")
MAX_AMOUNT = Decimal("1000000000")  # any rate, cap or budget; far above the programme's whole budget


def money(value: Any) -> Decimal:
    """Euros with two places, rounded half up; never a float on the way in."""
    if isinstance(value, float):
        raise TypeError("money is never a float")
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def _semesters(year: int) -> list[dict[str, Any]]:
    sy = f"{year}/{year + 1}"
    return [
        {"code": f"{sy}-1", "school_type": "general", "school_year": sy, "number": 1,
         "starts_on": f"{year}-09-01", "ends_on": f"{year}-12-22"},
        {"code": f"{sy}-2", "school_type": "general", "school_year": sy, "number": 2,
         "starts_on": f"{year + 1}-01-05", "ends_on": f"{year + 1}-05-31"},
        {"code": f"{sy}-1", "school_type": "vocational", "school_year": sy, "number": 1,
         "starts_on": f"{year}-09-01", "ends_on": f"{year + 1}-01-15"},
        {"code": f"{sy}-2", "school_type": "vocational", "school_year": sy, "number": 2,
         "starts_on": f"{year + 1}-01-18", "ends_on": f"{year + 1}-06-30"},
    ]  # fmt: skip


# EXAMPLE values, not facts: the public record has no unit-cost rates, caps or deadlines (DOMAIN.md, "Open")
EXAMPLE_SETTINGS: dict[str, Any] = {
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
    # a cap per category, per day (times the days of the month inside the semester), month or semester
    "compensation_caps": {
        "public_transport": {"per_day": None, "per_month": "60.00", "per_semester": None},
        "learning_materials": {"per_day": None, "per_month": None, "per_semester": "100.00"},
        "accommodation": {"per_day": None, "per_month": "120.00", "per_semester": None},
        "meals": {"per_day": "3.50", "per_month": None, "per_semester": None},
        "personal_items": {"per_day": None, "per_month": None, "per_semester": "150.00"},
        "special_transport": {"per_day": None, "per_month": "200.00", "per_semester": None},
    },
    "semesters": [s for y in (2025, 2026, 2027) for s in _semesters(y)],
    # the expense package of a month is due on this day of the following month
    "deadline_day": 10,
    # last month's statements are built on this day of the month (after the deadline)
    "statement_day": 15,
    # a tenant's budget per semester: its number of students times this, unless set for the tenant
    "budget_per_student_semester": "15.00",
    "tenant_budgets": {},
    # share of the budget past which a claim is accepted with a warning
    "budget_warn_share": "0.90",
}
EXAMPLE_EFFECTIVE_FROM = date(2021, 9, 1)


class Programme:
    """One revision's values, typed for the rules."""

    def __init__(self, revision: int, effective_from: date, data: dict[str, Any], example_values: bool) -> None:
        self.revision, self.effective_from, self.data, self.example_values = (
            revision,
            effective_from,
            data,
            example_values,
        )

    @classmethod
    def of(cls, row: SettingsRevision) -> Programme:
        return cls(row.revision, row.effective_from, row.data, row.example_values)

    @property
    def rates(self) -> dict[str, Decimal]:
        return {k: money(v) for k, v in self.data["consultation_rates"].items()}

    @property
    def preparation_rate(self) -> Decimal:
        return money(self.data["preparation_rate"])

    @property
    def preparation_cap(self) -> Decimal:
        return Decimal(self.data["preparation_hours_cap"])

    def caps(self, category: str) -> dict[str, Decimal | None]:
        raw = self.data["compensation_caps"].get(category) or {}
        return {p: (money(raw[p]) if raw.get(p) is not None else None) for p in CAP_PERIODS}

    @property
    def categories(self) -> list[str]:
        return list(self.data["compensation_caps"])

    @property
    def deadline_day(self) -> int:
        return int(self.data["deadline_day"])

    @property
    def statement_day(self) -> int:
        return int(self.data["statement_day"])

    @property
    def warn_share(self) -> Decimal:
        return Decimal(self.data.get("budget_warn_share", "0.90"))

    def semester(self, code: str, school_type: str, tenant_id: uuid.UUID | None = None) -> dict[str, Any] | None:
        """A semester by code for a school type; a tenant's own semester wins over the general one."""
        found = None
        for s in self.data["semesters"]:
            if s["code"] != code or s["school_type"] != school_type:
                continue
            if s.get("tenant_id") and s["tenant_id"] != str(tenant_id):
                continue
            if s.get("tenant_id") or found is None:
                found = s
        if found is None:
            return None
        return {
            **found,
            "starts_on": date.fromisoformat(found["starts_on"]),
            "ends_on": date.fromisoformat(found["ends_on"]),
        }

    def semester_on(self, day: date, school_type: str = "general") -> dict[str, Any] | None:
        for s in self.data["semesters"]:
            starts, ends = date.fromisoformat(str(s["starts_on"])), date.fromisoformat(str(s["ends_on"]))
            if s["school_type"] == school_type and not s.get("tenant_id") and starts <= day <= ends:
                return self.semester(s["code"], school_type)
        return None

    def tenant_budget(self, tenant_id: uuid.UUID, semester: str, student_count: int) -> Decimal:
        own = (self.data.get("tenant_budgets") or {}).get(str(tenant_id), {}).get(semester)
        if own is not None:
            return money(own)
        return money(Decimal(student_count) * money(self.data["budget_per_student_semester"]))

    # ---- what other services keep a copy of ----------------------------------------------------

    def semesters_payload(self) -> list[dict[str, Any]]:
        keys = ("code", "school_type", "school_year", "number", "starts_on", "ends_on", "tenant_id")
        return [{k: s.get(k) for k in keys} for s in self.data["semesters"]]

    def plans_payload(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "effective_from": self.effective_from.isoformat(),
            "consultation_rates": dict(self.data["consultation_rates"]),
            "preparation_rate": self.data["preparation_rate"],
            "preparation_hours_cap": self.data["preparation_hours_cap"],
            "compensation_categories": self.categories,
            "semesters": self.semesters_payload(),
            "example_values": self.example_values,
        }

    def calendar_payload(self) -> dict[str, Any]:
        return {"revision": self.revision, "deadline_day": self.deadline_day, "semesters": self.semesters_payload()}


# ---- reading revisions --------------------------------------------------------------------------


def in_force(session: Session, day: date) -> Programme:
    """The revision in force on `day` (the earliest one for days before every effective date)."""
    row = session.execute(
        select(SettingsRevision)
        .where(SettingsRevision.effective_from <= day)
        .order_by(SettingsRevision.revision.desc())
        .limit(1)
    ).scalar_one_or_none()
    if row is None:
        row = session.execute(
            select(SettingsRevision).order_by(SettingsRevision.revision).limit(1)
        ).scalar_one_or_none()
    if row is None:
        raise _missing()
    return Programme.of(row)


def _missing() -> ApiError:
    return ApiError(
        503,
        "programme_settings_missing",
        "No programme settings are recorded yet; run `python -m services.finance.cli seed-settings`.",
        detail_lv="Programmas iestatījumi vēl nav ierakstīti.",
    )


class InForce:
    """`in_force` for the many days of one read (an overview, a statement): every revision is read once,
    then each day is looked up among them by the same rule, instead of a query per plan. Only for reads:
    the revisions must not change while it is used."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._rows: list[SettingsRevision] | None = None
        self._days: dict[date, Programme] = {}

    def __call__(self, day: date) -> Programme:
        found = self._days.get(day)
        if found is None:
            if self._rows is None:
                self._rows = list(
                    self.session.execute(select(SettingsRevision).order_by(SettingsRevision.revision)).scalars()
                )
            if not self._rows:
                raise _missing()
            # the newest revision effective by `day`, else the earliest one (as in_force)
            row = next((r for r in reversed(self._rows) if r.effective_from <= day), self._rows[0])
            found = self._days[day] = Programme.of(row)
        return found


def revision(session: Session, number: int) -> Programme | None:
    row = session.get(SettingsRevision, number)
    return Programme.of(row) if row else None


def latest_number(session: Session) -> int:
    return int(session.execute(select(func.coalesce(func.max(SettingsRevision.revision), 0))).scalar_one())


# ---- changing them ------------------------------------------------------------------------------

SECTIONS = ("consultation_rates", "compensation_caps", "tenant_budgets")
SCALARS = (
    "preparation_rate",
    "preparation_hours_cap",
    "deadline_day",
    "statement_day",
    "budget_per_student_semester",
    "budget_warn_share",
)


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A full set: `base` with the given sections merged key by key and the given values replaced."""
    data = copy.deepcopy(base)
    for key in SECTIONS:
        for name, value in (changes.get(key) or {}).items():
            if key in ("compensation_caps", "tenant_budgets") and isinstance(value, dict):
                data[key][name] = {**data[key].get(name, {}), **value}
            else:
                data[key][name] = value
    for key in SCALARS:
        if changes.get(key) is not None:
            data[key] = changes[key]
    if changes.get("semesters") is not None:
        data["semesters"] = changes["semesters"]
    return normalised(data)


def normalised(data: dict[str, Any]) -> dict[str, Any]:
    """Check every value and write money as strings with two places; raise 422 naming the bad ones."""
    errors: dict[str, str] = {}

    def amount(path: str, value: Any) -> str | None:
        if value is None:
            return None
        try:
            d = Decimal(str(value))
        except InvalidOperation:
            errors[path] = "Not an amount. / Nav summa."
            return None
        if d < 0 or not d.is_finite():
            errors[path] = "Must not be negative. / Nedrīkst būt negatīva."
            return None
        if d > MAX_AMOUNT:  # also keeps the cents within Decimal's precision
            errors[path] = "At most 1 000 000 000.00. / Ne vairāk kā 1 000 000 000,00."
            return None
        return str(money(d))

    out = copy.deepcopy(data)
    for k, v in data["consultation_rates"].items():
        if k not in PROVIDER_TYPES:
            errors[f"consultation_rates.{k}"] = "Unknown provider type. / Nezināms sniedzēja veids."
        out["consultation_rates"][k] = amount(f"consultation_rates.{k}", v)
    for cat, caps in data["compensation_caps"].items():
        if cat not in COMPENSATION_CATEGORIES:
            errors[f"compensation_caps.{cat}"] = "Unknown category. / Nezināma kategorija."
        out["compensation_caps"][cat] = {p: amount(f"compensation_caps.{cat}.{p}", caps.get(p)) for p in CAP_PERIODS}
    for tenant, budgets in data.get("tenant_budgets", {}).items():
        out["tenant_budgets"][tenant] = {s: amount(f"tenant_budgets.{tenant}.{s}", v) for s, v in budgets.items()}
    for key in ("preparation_rate", "budget_per_student_semester"):
        out[key] = amount(key, data[key])
    cap = Decimal(str(data["preparation_hours_cap"]))
    if not Decimal(0) <= cap <= Decimal(100):
        errors["preparation_hours_cap"] = "Between 0 and 100 hours. / No 0 līdz 100 stundām."
    out["preparation_hours_cap"] = str(cap.normalize()) if cap == cap.to_integral() else str(cap)
    for key in ("deadline_day", "statement_day"):
        if not 1 <= int(data[key]) <= 28:
            errors[key] = "A day from 1 to 28. / Diena no 1 līdz 28."
    share = Decimal(str(data.get("budget_warn_share", "0.90")))
    if not Decimal(0) < share <= Decimal(1):
        errors["budget_warn_share"] = "A share above 0 and at most 1. / Daļa no 0 līdz 1."
    for i, s in enumerate(data["semesters"]):
        if date.fromisoformat(str(s["starts_on"])) > date.fromisoformat(str(s["ends_on"])):
            errors[f"semesters.{i}"] = "Ends before it starts. / Beidzas pirms sākuma."
    if errors:
        raise ApiError(
            422,
            "settings_invalid",
            "Some settings are invalid; see `errors`.",
            detail_lv="Daži iestatījumi nav derīgi; skatiet `errors`.",
            errors=errors,
        )
    out["semesters"] = [
        {**s, "starts_on": str(s["starts_on"]), "ends_on": str(s["ends_on"]),
         "tenant_id": str(s["tenant_id"]) if s.get("tenant_id") else None}
        for s in data["semesters"]
    ]  # fmt: skip
    return out


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Each value that differs between two sets, as {key, from, to} with dotted keys."""

    def flat(d: Any, prefix: str = "") -> dict[str, Any]:
        if isinstance(d, dict):
            out: dict[str, Any] = {}
            for k, v in d.items():
                out.update(flat(v, f"{prefix}{k}."))
            return out
        return {prefix.rstrip("."): d}

    a = {k: v for k, v in flat(old).items() if not k.startswith("semesters")}
    b = {k: v for k, v in flat(new).items() if not k.startswith("semesters")}
    diffs = [{"key": k, "from": a.get(k), "to": b.get(k)} for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    if old.get("semesters") != new.get("semesters"):
        diffs.append({"key": "semesters", "from": None, "to": None})
    return diffs
