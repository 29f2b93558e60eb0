"""The paths notifications' e-mails and inbox items link to (services/notifications/catalogue.py `link`),
each served by the portal.

An area that builds one of these pages declares the same route in its own blueprint, and the fallback
here steps aside (it is registered only for paths no area serves). Until then the fallback opens the
record through the service's API with the person's token (so another tenant's id gives the plain
not-found page) and shows it in summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, abort, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.routing import BuildError

from services.common.settings import SERVICES

from .client import api


@dataclass(frozen=True)
class Link:
    endpoint: str
    rule: str  # as the portal routes it
    example: str  # a path notifications makes (tests/unit/portal check that it resolves)
    service: str | None  # None: the service is named by the `service` query member (dead letters)
    api_path: str
    title: Any


LINKS = (
    Link("links.plan", "/plans/<uuid:ref_id>", "/plans/{id}", "plans", "/plans/{ref_id}", _l("Plan")),
    Link(
        "links.document",
        "/documents/<uuid:ref_id>",
        "/documents/{id}",
        "documents",
        "/documents/{ref_id}",
        _l("Document"),
    ),
    Link("links.order", "/orders/<uuid:ref_id>", "/orders/{id}", "plans", "/orders/{ref_id}", _l("Director's order")),
    Link(
        "links.statement",
        "/statements/<uuid:ref_id>",
        "/statements/{id}",
        "finance",
        "/statements/{ref_id}",
        _l("Reimbursement statement"),
    ),
    Link(
        "links.package",
        "/packages/<month>",
        "/packages/2026-10?tenant_id={id}&school_id={id}",
        "documents",
        "/packages/{ref_id}",
        _l("Monthly expense package"),
    ),
    Link(
        "links.dead_letters",
        "/admin/dead-letters",
        "/admin/dead-letters?service=finance",
        None,
        "/admin/dead-letters",
        _l("Messages that failed"),
    ),
    Link("links.inbox", "/inbox", "/inbox", "notifications", "/inbox", _l("Inbox")),
    Link(
        "links.preferences",
        "/preferences",
        "/preferences",
        "notifications",
        "/preferences",
        _l("Notification settings"),
    ),
)
# the fields of a record the summary shows, in this order, with their labels
FIELDS = (
    ("code", _l("Code")),
    ("status", _l("Status")),
    ("semester", _l("Semester")),
    ("month", _l("Month")),
    ("kind", _l("Kind")),
    ("number", _l("Number")),
    ("created_at", _l("Created")),
)


# the values a summary shows in words (documents' statuses and kinds, orders' kinds); plans' statuses are tags
WORDS = {
    "received": _l("Received"),
    "checking": _l("Being checked"),
    "accepted": _l("Accepted"),
    "needs_fix": _l("Needs fixing"),
    "rejected": _l("Rejected"),
    "application": _l("Application"),
    "attestation": _l("Attestation"),
    "expense_receipt": _l("Receipt"),
    "transport_ticket": _l("Transport ticket"),
    "invoice": _l("Invoice"),
    "timesheet": _l("Timesheet"),
    "agreement": _l("Agreement"),
    "directors_order": _l("Director's order"),
    "ka_form": _l("Consultative support form"),
    "statement": _l("Reimbursement statement"),
    "remote_consultations": _l("Remote consultations"),
    "practice_placement": _l("Practice placement"),
}


def url_if(endpoint: str, **values: Any) -> str | None:
    """The URL of a page an area may not have built yet, or None (templates: `url_if('inbox.index')`)."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def _view(link: Link) -> Any:
    def view(ref_id: Any = None, month: str | None = None) -> Any:
        ref = str(ref_id or month or "")
        service = link.service or request.args.get("service", "")
        if service not in SERVICES:
            abort(404)
        params = {k: v for k, v in request.args.items() if k in ("tenant_id", "school_id", "page")}
        answer = api.get(service, link.api_path.format(ref_id=ref), **params)
        if link.endpoint in ("links.inbox", "links.preferences", "links.dead_letters"):
            items = answer.get("items", []) if isinstance(answer, dict) else answer
            head, rows = _table(link, items)
            return render_template("links/list.html", link=link, items=items, head=head, rows=rows)
        record = answer.get("document", answer) if isinstance(answer, dict) else {}
        rows = [[label, name, record.get(name)] for name, label in FIELDS if record.get(name) not in (None, "")]
        return render_template("links/record.html", link=link, rows=rows, words=WORDS)

    view.__name__ = link.endpoint.split(".", 1)[1]
    return view


def _table(link: Link, items: list[dict[str, Any]]) -> tuple[list[Any], list[list[Any]]]:
    latvian = str(get_locale()) == "lv"
    if link.endpoint == "links.preferences":
        on, off = _("On"), _("Off")
        return [_("Kind"), _("E-mail"), _("Inbox")], [
            [
                i.get("label_lv" if latvian else "label_en", i["kind"]),
                on if i["email"] else off,
                on if i["inbox"] else off,
            ]
            for i in items
        ]
    return [_("Message"), _("Failed")], [
        [i.get("task_name", ""), i.get("failed_at") or i.get("created_at", "")] for i in items
    ]


def install(app: Flask) -> None:
    """Serve every link path no area serves."""
    served = {rule.rule for rule in app.url_map.iter_rules()}
    for link in LINKS:
        if link.rule not in served:
            app.add_url_rule(link.rule, endpoint=link.endpoint, view_func=_view(link), methods=["GET"])
