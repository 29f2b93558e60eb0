"""The plan lifecycle and the approval chain of DOMAIN.md, as pure rules.

draft → in_approval → approved → in_progress; suspended; under_review; inactive.
Municipal school: director → municipality coordinator → IKVD. Vocational school: director → IKVD.
Each refusal names the rule that stopped it (a stable code); the caller turns it into a 409.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

DRAFT, IN_APPROVAL, APPROVED, IN_PROGRESS = "draft", "in_approval", "approved", "in_progress"
SUSPENDED, UNDER_REVIEW, INACTIVE = "suspended", "under_review", "inactive"
EDITABLE = frozenset({DRAFT, UNDER_REVIEW})

DIRECTOR, MUNICIPALITY, IKVD = "director", "municipality", "ikvd"

STATUS_LV = {
    DRAFT: "Projekts",
    IN_APPROVAL: "Saskaņošanā",
    APPROVED: "Apstiprināts",
    IN_PROGRESS: "Īstenošanā",
    SUSPENDED: "Apturēts",
    UNDER_REVIEW: "Pārskatīšanā",
    INACTIVE: "Neaktīvs",
}


class RuleBroken(Exception):
    """A transition a rule forbids: `code` for programs, texts for people."""

    def __init__(self, code: str, en: str, lv: str) -> None:
        super().__init__(en)
        self.code, self.en, self.lv = code, en, lv


def chain(tenant_kind: str) -> tuple[str, ...]:
    """The approval levels in order for a plan of this kind of tenant."""
    return (DIRECTOR, MUNICIPALITY, IKVD) if tenant_kind == "municipality" else (DIRECTOR, IKVD)


@dataclass(frozen=True)
class Outcome:
    status: str
    pending_level: str | None


def _require(status: str, allowed: set[str] | frozenset[str], action: str) -> None:
    if status not in allowed:
        raise RuleBroken(
            "transition_not_allowed",
            f"A plan in status '{status}' cannot be {action}.",
            f"Plānu statusā '{STATUS_LV.get(status, status)}' nevar {action_lv(action)}.",
        )


def action_lv(action: str) -> str:
    return {
        "submitted": "iesniegt saskaņošanai",
        "approved": "apstiprināt",
        "sent back": "atgriezt",
        "suspended": "apturēt",
        "resumed": "atsākt",
        "reviewed": "nodot pārskatīšanai",
        "deleted": "dzēst",
        "started": "sākt īstenot",
        "edited": "labot",
    }.get(action, action)


@dataclass(frozen=True)
class SubmitFacts:
    status: str
    has_risks: bool
    has_measures: bool
    application_on_file: bool  # a stored application document plans has accepted for this plan
    application_signer: str | None  # parent | guardian | student
    student_is_minor: bool
    preparer_is_teacher: bool
    preparation_hours: Decimal
    preparation_cap: Decimal
    financing_known: bool


APPLICATION_MISSING_EN = (
    "The signed application is not on file. Upload it for this plan: POST /documents with kind=application, "
    "plan_id, student_id, signer (parent or guardian for a minor, student for an adult) and signed_on. It is on "
    "file once it is stored and found to fit the plan (a few seconds; the document's status becomes accepted, "
    "or needs_fix with the reason); then submit again."
)
APPLICATION_MISSING_LV = (
    "Nav pievienots parakstīts iesniegums. Augšupielādējiet to šim plānam: POST /documents ar kind=application, "
    "plan_id, student_id, signer (nepilngadīgajam parent vai guardian, pilngadīgajam student) un signed_on. "
    "Iesniegums ir pievienots, kad tas saglabāts un atzīts par atbilstošu plānam (dažās sekundēs; dokumenta "
    "statuss kļūst accepted vai needs_fix ar iemeslu); tad iesniedziet plānu vēlreiz."
)


def check_signer(signer: str | None, student_is_minor: bool) -> None:
    """A minor's application is signed by a parent or guardian; an adult student signs their own."""
    wanted = {"parent", "guardian"} if student_is_minor else {"student"}
    if signer not in wanted:
        raise RuleBroken(
            "application_signer_wrong",
            "A minor's application is signed by a parent or guardian; an adult student signs their own. "
            "Upload a new version of the application with the right signer.",
            "Nepilngadīgā iesniegumu paraksta vecāks vai aizbildnis; pilngadīgs izglītojamais parakstās pats. "
            "Augšupielādējiet iesnieguma jaunu versiju ar pareizo parakstītāju.",
        )


@dataclass(frozen=True)
class ApplicationFacts:
    """An application documents stored for a plan, and the plan as plans holds it (None: no such plan)."""

    plan_status: str | None
    plan_school_id: str | None
    plan_student_id: str | None
    student_is_minor: bool
    on_file_document: str | None  # the plan's application now, and its version
    on_file_version: int | None
    document_id: str
    version: int
    school_id: str | None
    student_id: str
    signer: str


def application_fits(f: ApplicationFacts) -> bool:
    """Whether the application goes on file (True) or is an older version of the one there (False, nothing to do);
    a refusal names the rule."""
    if f.plan_status is None or f.plan_status == INACTIVE or f.school_id not in (None, f.plan_school_id):
        raise RuleBroken(
            "application_plan_unknown",
            "No active plan of this institution has this plan_id.",
            "Šai iestādei nav aktīva plāna ar šādu plan_id.",
        )
    if f.on_file_document == f.document_id and (f.on_file_version or 0) >= f.version:
        return False
    if f.plan_student_id != f.student_id:
        raise RuleBroken(
            "application_student_wrong",
            "The application names another student than the plan's.",
            "Iesniegumā norādīts cits izglītojamais, nevis plāna izglītojamais.",
        )
    if f.plan_status not in EDITABLE:
        raise RuleBroken(
            "application_plan_not_editable",
            "The plan is already submitted or decided; its application changes only while it is a draft or under "
            "review (POST /plans/{id}/review opens it).",
            "Plāns jau iesniegts vai izlemts; iesniegumu var mainīt tikai projektam vai plānam pārskatīšanā.",
        )
    check_signer(f.signer, f.student_is_minor)
    return True


def submit(f: SubmitFacts, tenant_kind: str) -> Outcome:
    _require(f.status, EDITABLE, "submitted")
    if not (f.has_risks and f.has_measures):
        raise RuleBroken(
            "plan_incomplete",
            "A plan needs at least one risk and one support measure.",
            "Plānā jābūt vismaz vienam riskam un vienam atbalsta pasākumam.",
        )
    if not f.application_on_file:
        raise RuleBroken("application_missing", APPLICATION_MISSING_EN, APPLICATION_MISSING_LV)
    check_signer(f.application_signer, f.student_is_minor)
    if not f.preparer_is_teacher:
        raise RuleBroken(
            "preparer_not_teacher",
            "The plan's preparer must be a teacher of the school.",
            "Plāna sagatavotājam jābūt šīs skolas pedagogam.",
        )
    if f.preparation_hours > f.preparation_cap:
        raise RuleBroken(
            "preparation_hours_over_cap",
            f"Preparation and supervision hours are at most {f.preparation_cap}.",
            f"Sagatavošanas un uzraudzības stundu skaits nedrīkst pārsniegt {f.preparation_cap}.",
        )
    if not f.financing_known:
        raise RuleBroken(
            "rate_unknown",
            "A measure's provider type has no unit-cost rate in the settings.",
            "Kādam pasākuma sniedzēja veidam iestatījumos nav vienības izmaksu likmes.",
        )
    return Outcome(IN_APPROVAL, chain(tenant_kind)[0])


def approve(status: str, pending: str | None, level: str, tenant_kind: str) -> Outcome:
    _require(status, {IN_APPROVAL}, "approved")
    _require_level(pending, level)
    levels = chain(tenant_kind)
    nxt = levels.index(level) + 1
    if nxt == len(levels):
        return Outcome(APPROVED, None)
    return Outcome(IN_APPROVAL, levels[nxt])


def send_back(status: str, pending: str | None, level: str, comment: str | None) -> Outcome:
    _require(status, {IN_APPROVAL}, "sent back")
    _require_level(pending, level)
    if not (comment and comment.strip()):
        raise RuleBroken("comment_required", "Say why the plan is sent back.", "Norādiet, kāpēc plāns tiek atgriezts.")
    return Outcome(UNDER_REVIEW, None)


def _require_level(pending: str | None, level: str) -> None:
    if pending != level:
        raise RuleBroken(
            "not_pending_at_your_level",
            f"The plan waits at the '{pending}' level, not '{level}'.",
            "Plāns negaida saskaņojumu jūsu līmenī.",
        )


def suspend(status: str, reason: str | None) -> Outcome:
    _require(status, {IN_APPROVAL, APPROVED, IN_PROGRESS}, "suspended")
    if not (reason and reason.strip()):
        raise RuleBroken("reason_required", "A suspension needs a reason.", "Apturēšanai jānorāda iemesls.")
    return Outcome(SUSPENDED, None)


def resume(status: str, today: date, semester_start: date, semester_end: date) -> Outcome:
    _require(status, {SUSPENDED}, "resumed")
    if not semester_start <= today <= semester_end:
        raise RuleBroken(
            "semester_over",
            "A suspended plan can be resumed only within its own semester.",
            "Apturētu plānu var atsākt tikai tā paša semestra laikā.",
        )
    return Outcome(UNDER_REVIEW, None)


def review(status: str) -> Outcome:
    """Open an approved plan for changes: it goes through every approval level again."""
    _require(status, {APPROVED, IN_PROGRESS}, "reviewed")
    return Outcome(UNDER_REVIEW, None)


def delete(status: str, paid_so_far: Decimal) -> Outcome:
    _require(status, {DRAFT, IN_APPROVAL, APPROVED, IN_PROGRESS, SUSPENDED, UNDER_REVIEW}, "deleted")
    if paid_so_far > 0:
        raise RuleBroken(
            "plan_has_payments",
            "Something has been paid for this plan (preparation included).",
            "Par šo plānu jau ir veikti maksājumi (arī par sagatavošanu).",
        )
    return Outcome(INACTIVE, None)


def start(status: str) -> Outcome | None:
    """The first agreement moves an approved plan to in progress; later ones change nothing."""
    if status == APPROVED:
        return Outcome(IN_PROGRESS, None)
    if status == IN_PROGRESS:
        return None
    raise RuleBroken(
        "plan_not_approved",
        "Agreements are signed only for approved plans.",
        "Vienošanās slēdz tikai par apstiprinātiem plāniem.",
    )


def editable(status: str) -> None:
    _require(status, EDITABLE, "edited")


def planned_financing(
    consultations: list[tuple[str, Decimal]],
    compensations: list[Decimal],
    preparation_hours: Decimal,
    rates: dict[str, Decimal],
    preparation_rate: Decimal,
) -> Decimal | None:
    """Sum of measures plus preparation hours × rate; None when a provider type has no rate."""
    total = Decimal("0")
    for provider_type, hours in consultations:
        if provider_type not in rates:
            return None
        total += hours * rates[provider_type]
    total += sum(compensations, Decimal("0"))
    total += preparation_hours * preparation_rate
    return total.quantize(Decimal("0.01"))
