"""What each kind of document is: the file types it may be, the metadata it needs, who uploads it,
and which message its upload sends (to finance; an application to plans)."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.auth import (
    ACCOUNTANT,
    AUDITOR,
    DIRECTOR,
    MUNICIPALITY_COORDINATOR,
    PLAN_PREPARER,
    PLATFORM_ADMIN,
    REGIONAL_COORDINATOR,
    SCHOOL_COORDINATOR,
    SUPPORT_PROVIDER,
)
from services.common.contracts.documents import DOCUMENT_KINDS, EXPENSE_KINDS

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA_TYPES = (PDF, JPEG, PNG, XLSX)

SCANS = frozenset({PDF, JPEG, PNG})
SHEETS = frozenset({PDF, XLSX, JPEG, PNG})

EXPENSE_UPLOADERS = frozenset({SCHOOL_COORDINATOR, ACCOUNTANT, MUNICIPALITY_COORDINATOR})

CHECK_EXPENSE = "finance.check_expense_document"
REGISTER_ATTESTATION = "finance.register_attestation"
REGISTER_APPLICATION = "plans.register_application"


@dataclass(frozen=True)
class Kind:
    name: str
    label_lv: str
    media_types: frozenset[str]
    uploaders: frozenset[str]
    required: tuple[str, ...]  # metadata fields an upload must give
    message: str | None = None  # sent (to finance, or plans for applications) after each stored version
    needs_school: bool = True


_EXPENSE_FIELDS = ("student_id", "plan_id", "category", "month", "amount")

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "application",
            "Iesniegums",
            SCANS,
            frozenset({PLAN_PREPARER, SCHOOL_COORDINATOR, DIRECTOR}),
            ("student_id", "plan_id", "signer", "signed_on"),
            REGISTER_APPLICATION,
        ),
        Kind(
            "attestation",
            "Pašvaldības izziņa",
            SCANS,
            EXPENSE_UPLOADERS,
            ("student_id", "issuer", "issued_on", "valid_from", "valid_to", "categories"),
            REGISTER_ATTESTATION,
        ),
        Kind("expense_receipt", "Čeks / kvīts", SCANS, EXPENSE_UPLOADERS, _EXPENSE_FIELDS, CHECK_EXPENSE),
        Kind("transport_ticket", "Transporta biļete", SCANS, EXPENSE_UPLOADERS, _EXPENSE_FIELDS, CHECK_EXPENSE),
        Kind("invoice", "Rēķins", SCANS, EXPENSE_UPLOADERS, _EXPENSE_FIELDS, CHECK_EXPENSE),
        Kind(
            "timesheet",
            "Darba laika uzskaites tabele",
            SHEETS,
            EXPENSE_UPLOADERS | {SUPPORT_PROVIDER},
            _EXPENSE_FIELDS,
            CHECK_EXPENSE,
        ),
        Kind(
            "agreement",
            "Vienošanās",
            SCANS,
            frozenset({SUPPORT_PROVIDER, SCHOOL_COORDINATOR, PLAN_PREPARER}),
            ("student_id", "plan_id"),
        ),
        Kind("directors_order", "Direktora rīkojums", SCANS, frozenset({DIRECTOR, SCHOOL_COORDINATOR}), ("issued_on",)),
        Kind(
            "ka_form",
            "Konsultatīvā atbalsta veidlapa",
            SHEETS,
            frozenset({SUPPORT_PROVIDER, SCHOOL_COORDINATOR}),
            ("plan_id", "month"),
        ),
        Kind(
            "statement",
            "Atmaksas pārskats",
            frozenset({PDF, XLSX}),
            frozenset({ACCOUNTANT, MUNICIPALITY_COORDINATOR, PLATFORM_ADMIN}),
            ("month",),
            needs_school=False,
        ),
    )
}

assert set(KINDS) == set(DOCUMENT_KINDS), "every kind of the contract has its rules"
assert {k for k, v in KINDS.items() if v.message == CHECK_EXPENSE} == set(EXPENSE_KINDS)

# every role that uploads some kind: checked before an upload's body is read
UPLOADERS = frozenset().union(*(k.uploaders for k in KINDS.values()))

# who may read documents (within their scope); a plain teacher grant reads none
READERS = frozenset(
    {
        PLATFORM_ADMIN,
        REGIONAL_COORDINATOR,
        MUNICIPALITY_COORDINATOR,
        SCHOOL_COORDINATOR,
        ACCOUNTANT,
        DIRECTOR,
        PLAN_PREPARER,
        SUPPORT_PROVIDER,
        AUDITOR,
    }
)
# who may delete a document whose retention has ended
DELETERS = frozenset({PLATFORM_ADMIN, MUNICIPALITY_COORDINATOR})


def kind(name: str) -> Kind:
    return KINDS[name]
