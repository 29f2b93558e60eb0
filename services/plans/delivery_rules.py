"""The rules of support delivery as pure functions: KA form lines, remote consultations, agreements
and the semester evaluation (DOMAIN.md, "Document sequence", "Remote consultations").

Each refusal is a `Refused` with a stable code; the caller turns it into a 409.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from services.common.errors import Conflict

from . import workflow
from .workflow import APPROVED, IN_PROGRESS, SUSPENDED, RuleBroken

RIGA = ZoneInfo("Europe/Riga")
REMOTE_KIND = "remote_consultations"
OUTCOMES = ("goals_met", "partly_met", "not_met")
OUTCOME_LV = {"goals_met": "mērķi sasniegti", "partly_met": "mērķi daļēji sasniegti", "not_met": "mērķi nav sasniegti"}


def riga_today() -> date:
    """Today on the school calendar (Europe/Riga), whatever the server's zone."""
    return datetime.now(RIGA).date()


class Refused(RuleBroken):
    """A rule of delivery said no; `extra` goes into the problem document for the client to act on."""

    def __init__(self, code: str, en: str, lv: str, **extra: Any) -> None:
        super().__init__(code, en, lv)
        self.extra = extra


def conflict(exc: RuleBroken) -> Conflict:
    return Conflict(exc.code, exc.en, exc.lv, **getattr(exc, "extra", {}))


@dataclass(frozen=True)
class OrderFacts:
    """A director's order as far as a remote consultation cares."""

    kind: str
    school_id: uuid.UUID
    valid_from: date
    valid_to: date
    plan_ids: frozenset[uuid.UUID]
    provider_ids: frozenset[uuid.UUID]


def order_gaps(
    order: OrderFacts, *, school_id: uuid.UUID, plan_id: uuid.UUID, provider_id: uuid.UUID, held_on: date
) -> list[str]:
    """What an order fails to cover for this consultation (empty when it covers it)."""
    gaps = []
    if order.kind != REMOTE_KIND:
        gaps.append("kind")
    if order.school_id != school_id:
        gaps.append("school")
    if not order.valid_from <= held_on <= order.valid_to:
        gaps.append("period")
    if plan_id not in order.plan_ids:
        gaps.append("student")
    if provider_id not in order.provider_ids:
        gaps.append("provider")
    return gaps


@dataclass(frozen=True)
class ConsultationFacts:
    plan_id: uuid.UUID
    school_id: uuid.UUID
    provider_id: uuid.UUID
    plan_status: str
    semester_start: date
    semester_end: date
    today: date
    held_on: date
    hours: Decimal
    planned_hours: Decimal
    delivered_hours: Decimal  # already on this measure, before this line
    agreement_signed_on: date | None  # the provider's agreement on this measure, None when there is none
    mode: str  # in_person | remote
    confirmed_on: date | None = None
    confirmation_days: int = 1
    order: OrderFacts | None = None  # the order named, or the one found covering it


def check_consultation(f: ConsultationFacts) -> None:
    """Raise `Refused` with the first rule a KA form line breaks, in the order a person would check them."""
    if f.plan_status != IN_PROGRESS:
        raise Refused(
            "plan_not_in_progress",
            "Consultations are recorded only while the plan is in progress.",
            "Konsultācijas var reģistrēt tikai plānam, kas ir īstenošanā.",
        )
    if f.held_on > f.today:
        raise Refused(
            "held_in_future", "A consultation is recorded after it is held.", "Konsultāciju reģistrē pēc tās norises."
        )
    if not f.semester_start <= f.held_on <= f.semester_end:
        raise Refused(
            "outside_semester",
            f"The date is outside the plan's semester ({f.semester_start} – {f.semester_end}).",
            f"Datums ir ārpus plāna semestra ({f.semester_start} – {f.semester_end}).",
        )
    if f.hours <= 0:
        raise Refused("hours_not_positive", "Hours must be more than zero.", "Stundu skaitam jābūt lielākam par nulli.")
    if f.agreement_signed_on is None:
        raise Refused(
            "no_agreement",
            "The provider has no agreement with the student on this measure.",
            "Atbalsta sniedzējam nav vienošanās ar izglītojamo par šo pasākumu.",
        )
    if f.held_on < f.agreement_signed_on:
        raise Refused(
            "before_agreement",
            f"The agreement was signed on {f.agreement_signed_on}; support starts after it.",
            f"Vienošanās noslēgta {f.agreement_signed_on}; atbalstu sniedz pēc tās.",
        )
    if f.delivered_hours + f.hours > f.planned_hours:
        raise Refused(
            "planned_hours_exceeded",
            f"Only {f.planned_hours - f.delivered_hours} of {f.planned_hours} planned hours remain; "
            "more hours need a review of the plan.",
            f"Atlikušas {f.planned_hours - f.delivered_hours} no {f.planned_hours} plānotajām stundām; "
            "vairāk stundu var sniegt tikai pēc plāna pārskatīšanas.",
            planned_hours=str(f.planned_hours),
            delivered_hours=str(f.delivered_hours),
        )
    if f.mode == "remote":
        _check_remote(f)


def _check_remote(f: ConsultationFacts) -> None:
    if f.order is None:
        raise Refused(
            "remote_order_missing",
            "A remote consultation needs a director's order for remote consultations that covers it.",
            "Attālinātai konsultācijai nepieciešams direktora rīkojums par attālinātām konsultācijām.",
        )
    gaps = order_gaps(f.order, school_id=f.school_id, plan_id=f.plan_id, provider_id=f.provider_id, held_on=f.held_on)
    if gaps:
        raise Refused(
            "remote_order_not_covering",
            "The director's order does not cover this consultation: " + ", ".join(gaps) + ".",
            "Direktora rīkojums neattiecas uz šo konsultāciju: " + ", ".join(gaps) + ".",
            gaps=gaps,
        )
    if f.confirmed_on is None:
        raise Refused(
            "remote_confirmation_missing",
            "A remote consultation needs the student's confirmation.",
            "Attālinātai konsultācijai nepieciešams izglītojamā apstiprinājums.",
        )
    if f.confirmed_on < f.held_on:
        raise Refused(
            "remote_confirmation_early",
            "The student confirms a consultation on or after the day it was held.",
            "Izglītojamais apstiprina konsultāciju tās dienā vai vēlāk.",
        )
    latest = f.held_on + timedelta(days=f.confirmation_days)
    if f.confirmed_on > latest:
        raise Refused(
            "remote_confirmation_late",
            f"The student's confirmation must be dated no later than {latest}.",
            f"Izglītojamā apstiprinājumam jābūt datētam ne vēlāk kā {latest}.",
            latest=latest.isoformat(),
        )


def check_agreement_date(signed_on: date, today: date) -> None:
    if signed_on > today:
        raise Refused(
            "signed_in_future", "An agreement is recorded once it is signed.", "Vienošanos reģistrē pēc parakstīšanas."
        )


def check_evaluation(status: str, today: date, semester_end: date) -> None:
    """In progress: any time. Approved or suspended: only from the semester's last day. Otherwise never.

    A plan that never started (approved) or stopped (suspended) may still start or resume while its
    semester runs, so its evaluation waits for the end; a plan in progress is evaluated when support ends.
    """
    if status == IN_PROGRESS:
        return
    if status in (APPROVED, SUSPENDED):
        if today < semester_end:
            raise Refused(
                "evaluation_too_early",
                f"A plan that is not in progress is evaluated at the end of its semester ({semester_end}).",
                f"Plānu, kas nav īstenošanā, izvērtē semestra beigās ({semester_end}).",
            )
        return
    raise Refused(
        "plan_not_evaluable",
        f"A plan in status '{status}' has no semester evaluation.",
        f"Plānam statusā '{workflow.STATUS_LV.get(status, status)}' semestra izvērtējumu neveic.",
    )
