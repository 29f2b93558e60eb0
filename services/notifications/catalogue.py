"""The kinds of notification: what each refers to, where its link points, and who may switch what off.

A kind is also the preference key a person sets (channels, immediate or digest) and the `kind`
every inbox item, e-mail and webhook carries.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str
    ref_type: str | None
    webhook: bool  # tenants' webhooks may subscribe to it
    label_lv: str
    label_en: str


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("document_verdict", "document", True, "Dokumenta pārbaudes rezultāts", "Document check verdict"),
        Kind("plan_awaiting_approval", "plan", True, "Plāns gaida saskaņošanu", "Plan awaiting approval"),
        Kind("plan_returned", "plan", True, "Plāns atgriezts", "Plan sent back"),
        Kind("plan_approved", "plan", True, "Plāns apstiprināts", "Plan approved"),
        Kind("order_registered", "order", True, "Reģistrēts direktora rīkojums", "Director's order registered"),
        Kind("statement_ready", "statement", True, "Atskaite sagatavota", "Statement ready"),
        Kind("message_dead_lettered", "dead_letter", False, "Neapstrādāta ziņa", "Dead-lettered message"),
        Kind("deadline_reminder", "package", False, "Izdevumu paketes termiņš", "Expense package deadline"),
        Kind("deadline_overdue", "package", False, "Nokavēta izdevumu pakete", "Expense package overdue"),
        Kind("evaluation_due", "plan", False, "Semestra izvērtējums", "Semester evaluation due"),
        Kind("evaluation_overdue", "plan", False, "Nokavēts semestra izvērtējums", "Semester evaluation overdue"),
        Kind("approval_overdue", "plan", False, "Saskaņošana kavējas", "Approval overdue"),
    )
}
# account mails (services/notifications/accounts.py): never muted, no inbox item, no webhook, no preference
ACCOUNT_KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("account_invitation", None, False, "ielūgums", "invitation"),
        Kind("password_reset", None, False, "paroles atjaunošana", "password reset"),
    )
}
DIGEST = "digest"  # the daily digest itself: not a preference, not a webhook kind
WEBHOOK_KINDS = tuple(name for name, k in KINDS.items() if k.webhook)

LEVEL_LV = {"director": "direktors", "municipality": "pašvaldības koordinators", "ikvd": "IKVD"}
LEVEL_EN = {"director": "director", "municipality": "municipality coordinator", "ikvd": "IKVD"}
VERDICT_LV = {"needs_fix": "jālabo", "rejected": "noraidīts"}
VERDICT_EN = {"needs_fix": "needs fixing", "rejected": "rejected"}


def link(base_url: str, ref_type: str | None, ref_id: str | None, data: dict[str, object]) -> str | None:
    """Where a person opens what the notification is about (relative when no base URL is set)."""
    if ref_type is None or ref_id is None:
        return None
    if ref_type == "plan":
        path = f"/plans/{ref_id}"
    elif ref_type == "document":
        path = f"/documents/{ref_id}"
    elif ref_type == "order":
        path = f"/orders/{ref_id}"
    elif ref_type == "statement":
        path = f"/documents/{data['document_id']}" if data.get("document_id") else f"/statements/{ref_id}"
    elif ref_type == "package":
        path = f"/packages/{str(data['month'])[:7]}?tenant_id={data['tenant_id']}"  # documents' YYYY-MM
        if data.get("school_id"):
            path += f"&school_id={data['school_id']}"
    elif ref_type == "dead_letter":
        path = f"/admin/dead-letters?service={data.get('service', '')}"
    else:
        return None
    return base_url + path
