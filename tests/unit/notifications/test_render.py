"""notifications.render: every kind's texts in Latvian and English, and e-mails with both parts."""

from __future__ import annotations

import pytest

from services.notifications import catalogue, render

pytestmark = pytest.mark.unit

SAMPLES = {
    "document_verdict": {
        "status": "needs_fix",
        "version": 2,
        "school_name": "Ugāles vidusskola",
        "reasons": [{"rule_id": "r", "text_lv": "Trūkst apliecinājuma.", "text_en": "The attestation is missing."}],
    },
    "plan_awaiting_approval": {"code": "IAP-1", "level": "municipality", "since": "2026-11-02T08:00:00+00:00"},
    "plan_returned": {"code": "IAP-1", "level": "director", "comment": "Precizējiet riskus."},
    "plan_approved": {"code": "IAP-1", "level": "ikvd"},
    "order_registered": {
        "number": "1-12/7",
        "kind": "remote_consultations",
        "issued_on": "2026-10-01",
        "valid_from": "2026-10-01",
        "valid_to": "2026-12-22",
        "student_count": 3,
        "provider_count": 2,
        "school_name": "Ugāles vidusskola",
    },
    "statement_ready": {"month": "2026-10-01", "total": "1234.50", "tenant_name": "Ventspils novads"},
    "message_dead_lettered": {"service": "plans", "task_name": "plans.sync_user", "error_type": "ValueError"},
    "deadline_reminder": {"month": "2026-10-01", "deadline": "2026-11-10", "days_left": 5, "school_name": "X"},
    "deadline_overdue": {"month": "2026-10-01", "deadline": "2026-11-10", "days_late": 4, "step": 1},
    "evaluation_due": {"code": "IAP-1", "semester": "2026/2027-1", "ends_on": "2026-12-22", "days_left": 0},
    "evaluation_overdue": {
        "code": "IAP-1",
        "semester": "2026/2027-1",
        "ends_on": "2026-12-22",
        "days_late": 4,
        "step": 1,
        "school_name": "Ugāles vidusskola",
    },
    "approval_overdue": {
        "code": "IAP-1",
        "level": "director",
        "since": "2026-11-02T08:00:00+00:00",
        "days_waiting": 9,
        "step": 1,
    },
}


def test_every_kind_has_a_sample_here():
    assert set(SAMPLES) == set(catalogue.KINDS)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_every_kind_renders_a_title_and_a_body_in_both_languages(kind):
    t = render.texts(kind, SAMPLES[kind])
    for text in (t.title_lv, t.title_en, t.body_lv, t.body_en):
        assert text and "None" not in text and "{{" not in text and "\n\n\n" not in text
    assert t.title_lv != t.title_en and t.body_lv != t.body_en


def test_dates_months_and_levels_read_as_people_write_them():
    t = render.texts("approval_overdue", SAMPLES["approval_overdue"])
    assert "02.11.2026" in t.body_lv and "direktors" in t.body_lv and "by the director" in t.body_en
    s = render.texts("statement_ready", SAMPLES["statement_ready"])
    assert s.title_lv == "Izdevumu atmaksas atskaite par 10.2026 sagatavota" and "1234.50 EUR" in s.body_en


def _mail(language: str, kind: str = "document_verdict", data: dict | None = None):  # type: ignore[no-untyped-def,type-arg]
    entry = render.Entry(kind, render.texts(kind, data or SAMPLES[kind]), "https://pumpurs.test/documents/d-1")
    return render.email_message(
        mail_from="PuMPuRS <no-reply@pumpurs.test>", to="a@b.lv", language=language, entries=[entry]
    )


def test_an_email_has_plain_text_and_html_with_the_readers_language_first():
    lv = _mail("lv")
    assert lv["Subject"] == "Dokuments jālabo: Ugāles vidusskola / A document needs fixing: Ugāles vidusskola"
    text = lv.get_body(("plain",)).get_content()
    assert text.index("Trūkst apliecinājuma.") < text.index("The attestation is missing.")
    assert "Atvērt: https://pumpurs.test/documents/d-1" in text
    en = _mail("en")
    assert en["Subject"].startswith("A document needs fixing")
    html = en.get_body(("html",)).get_content()
    assert html.index('lang="en"') < html.index('lang="lv"') and 'href="https://pumpurs.test/documents/d-1"' in html


def test_the_html_part_escapes_what_others_wrote():
    data = {**SAMPLES["plan_returned"], "comment": '<script>alert("x")</script>'}
    html = _mail("lv", "plan_returned", data).get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_a_digest_lists_every_entry_under_one_subject():
    entries = [render.Entry(k, render.texts(k, SAMPLES[k]), None) for k in ("plan_returned", "statement_ready")]
    mail = render.email_message(mail_from="x@y", to="a@b.lv", language="lv", entries=entries, digest=True)
    assert mail["Subject"] == "PuMPuRS: dienas kopsavilkums (2) / PuMPuRS: daily digest (2)"
    text = mail.get_body(("plain",)).get_content()
    assert "Jūsu dienas kopsavilkums" in text and "Your daily digest" in text
    assert "Plāns IAP-1 atgriezts" in text and "The reimbursement statement for 10.2026 is ready" in text


@pytest.mark.parametrize(
    ("ref_type", "ref_id", "data", "link"),
    [
        ("plan", "p-1", {}, "https://x.lv/plans/p-1"),
        ("document", "d-1", {}, "https://x.lv/documents/d-1"),
        ("order", "o-1", {}, "https://x.lv/orders/o-1"),
        ("statement", "s-1", {"document_id": "d-9"}, "https://x.lv/documents/d-9"),
        ("statement", "s-1", {}, "https://x.lv/statements/s-1"),
        (
            "package",
            "sc:2026-10-01",
            {"month": "2026-10-01", "tenant_id": "t", "school_id": "sc"},
            "https://x.lv/packages/2026-10?tenant_id=t&school_id=sc",
        ),
        ("dead_letter", "dl", {"service": "plans"}, "https://x.lv/admin/dead-letters?service=plans"),
        (None, None, {}, None),
    ],
)
def test_every_reference_links_where_a_person_acts_on_it(ref_type, ref_id, data, link):
    assert catalogue.link("https://x.lv", ref_type, ref_id, data) == link
