"""Programme settings as plain values (merging, checking, differences) and statements rendered reproducibly."""

from __future__ import annotations

import io
import re
import uuid
from datetime import date
from decimal import Decimal

import pytest
from marshmallow import ValidationError

from services.common.contracts import CONTRACT
from services.common.errors import ApiError
from services.common.months import Month
from services.finance import programme
from services.finance.render import LISTING_BLOCK, Line, StatementData, listing, render_csv, render_pdf, render_xlsx
from services.finance.schemas import ClaimSchema, StatementCreateSchema

pytestmark = pytest.mark.unit

BASE = programme.normalised(programme.EXAMPLE_SETTINGS)


def test_the_example_settings_are_complete_and_fit_what_plans_and_notifications_keep():
    prog = programme.Programme(1, date(2021, 9, 1), BASE, True)
    assert prog.rates["psychologist"] == Decimal("30.00") and prog.preparation_cap == Decimal(6)
    assert set(prog.categories) == set(programme.COMPENSATION_CATEGORIES)
    assert prog.semester("2026/2027-1", "general")["ends_on"] == date(2026, 12, 22)
    assert prog.semester_on(date(2027, 1, 10), "vocational")["code"] == "2026/2027-1"
    assert prog.tenant_budget(uuid.uuid4(), "2026/2027-1", 2000) == Decimal("30000.00")
    CONTRACT.get("plans.sync_programme_settings").normalise(prog.plans_payload())
    CONTRACT.get("notifications.sync_calendar").normalise(prog.calendar_payload())
    assert prog.plans_payload()["example_values"] is True


def test_a_change_merges_onto_the_newest_values_and_lists_what_moved():
    new = programme.merged(
        BASE, {"compensation_caps": {"meals": {"per_day": "4"}}, "consultation_rates": {"teacher": "21.5"}}
    )
    assert new["compensation_caps"]["meals"] == {"per_day": "4.00", "per_month": None, "per_semester": None}
    assert new["consultation_rates"]["teacher"] == "21.50" and new["consultation_rates"]["assistant"] == "12.00"
    assert programme.differences(BASE, new) == [
        {"key": "compensation_caps.meals.per_day", "from": "3.50", "to": "4.00"},
        {"key": "consultation_rates.teacher", "from": "20.00", "to": "21.50"},
    ]


def test_bad_settings_are_refused_naming_each_value():
    with pytest.raises(ApiError) as err:
        programme.merged(BASE, {"consultation_rates": {"teacher": "-2"}, "deadline_day": 31, "budget_warn_share": "2"})
    assert err.value.code == "settings_invalid"
    assert set(err.value.errors or {}) == {"consultation_rates.teacher", "deadline_day", "budget_warn_share"}


def test_an_amount_past_what_money_can_hold_is_refused_not_a_crash():
    """schemathesis sent a tenant budget of 4e31: it broke rounding to cents (a 500); now it is named as too large."""
    tenant = "4b0c1f1e-1c1a-4c6e-9a5e-2f7f0d7c1a11"
    with pytest.raises(ApiError) as err:
        programme.merged(BASE, {"tenant_budgets": {tenant: {"2026/2027-1": "4.0106007220765206e+31"}}})
    assert err.value.code == "settings_invalid"
    assert err.value.errors == {
        f"tenant_budgets.{tenant}.2026/2027-1": "At most 1 000 000 000.00. / Ne vairāk kā 1 000 000 000,00."
    }
    at_most = programme.merged(BASE, {"consultation_rates": {"teacher": "1000000000"}})
    assert at_most["consultation_rates"]["teacher"] == "1000000000.00"


def test_money_is_never_a_float():
    assert programme.money("1.005") == Decimal("1.01")
    with pytest.raises(TypeError):
        programme.money(1.5)


def _data(lines: list[Line]) -> StatementData:
    return StatementData(
        "t-1", "Ventspils novads", date(2026, 10, 1), lines, example_values=True, registration_number="90000051525"
    )


LINES = [
    Line("claim", "s1", "IAP-B", "stud-2", "meals", "doc-9", None, None, Decimal("12.30")),
    Line(
        "consultation",
        "s1",
        "IAP-A",
        "stud-1",
        "consultations",
        "psychologist",
        Decimal("2"),
        Decimal("30"),
        Decimal("60"),
    ),
    Line("claim", "s1", "IAP-A", "stud-1", "public_transport", "doc-1", None, None, Decimal("40.00")),
    Line("preparation", "s1", "IAP-A", "stud-1", "plan_preparation", "", Decimal("2"), Decimal("20"), Decimal("40.00")),
]


def test_the_csv_is_the_same_bytes_for_the_same_data_in_any_order():
    first = render_csv(_data(LINES))
    assert first == render_csv(_data(list(reversed(LINES))))
    text = first.decode()
    assert text.splitlines()[0] == "section,school_id,plan_code,student_id,category,reference,hours,rate,amount"
    assert text.splitlines()[1].startswith("claim,s1,IAP-A,stud-1,public_transport,doc-1")
    assert "total_category,,,,meals,,,,12.30" in text and text.endswith("total,,,,,,,,152.30\n")
    assert "total_student,,IAP-A,stud-1,,,,,140.00" in text


def test_the_xlsx_holds_the_lines_totals_and_the_example_mark():
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(render_xlsx(_data(LINES))))
    assert wb.sheetnames == ["Rindas", "Kategorijas", "Izglītojamie"]
    rows = list(wb["Rindas"].iter_rows(values_only=True))
    assert rows[1][:2] == ("Reģistrācijas Nr. / Registration No.", "90000051525")
    assert rows[2][:2] == ("Periods / Period", "01.10.2026.–31.10.2026.")
    assert "EXAMPLE" in rows[3][0] and rows[-1][0] == "total" and Decimal(str(rows[-1][-1])) == Decimal("152.30")
    cats = list(wb["Kategorijas"].iter_rows(values_only=True))
    assert cats[0] == ("category", "Kategorija", "Category", "amount")
    assert ("meals", "Ēdināšana", "Meals") in [c[:3] for c in cats]


def test_the_pdf_lists_lines_as_aligned_columns_in_short_blocks():
    rows = [("IAP-A", "stud-1", "1.00"), ("IAP-LONGER", "stud-22", "120.00")] * LISTING_BLOCK
    blocks = re.findall(r"<pre>(.*?)</pre>", listing(("Plāns", "Izglītojamais", "Summa"), rows), re.S)
    assert len(blocks) == 3  # 80 rows, a header and a rule, 40 lines a block
    lines = "\n".join(blocks).splitlines()
    assert lines[0] == "Plāns       Izglītojamais   Summa"
    assert lines[2] == "IAP-A       stud-1           1.00"  # names to the left, amounts to the right
    assert lines[3] == "IAP-LONGER  stud-22        120.00"
    assert len({len(line) for line in lines}) == 1


def test_the_pdf_holds_every_line_and_the_totals():
    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(render_pdf(_data(LINES)))).pages)
    assert "Ventspils novads" in text and "EXAMPLE" in text
    for line in ("Konsultācijas", "Psihologs", "doc-9", "Plāna sagatavošana un uzraudzība", "152.30"):
        assert line in text


def test_the_pdf_people_read_and_sign_names_things_in_latvian_with_english_and_is_reproducible():
    """Issue 13: codes (public_transport, psychologist) in a Latvian document; no registration number, period,
    page numbers or signature lines. The same data still gives the same bytes."""
    from pypdf import PdfReader

    body = render_pdf(_data(LINES))
    assert render_pdf(_data(list(reversed(LINES)))) == body
    pages = PdfReader(io.BytesIO(body)).pages
    text = "".join(p.extract_text() for p in pages)
    for code in ("public_transport", "psychologist", "plan_preparation"):
        assert code not in text
    for lv, en in (
        ("Sabiedriskā transporta biļetes", "Public transport tickets"),
        ("Ēdināšana", "Meals"),
        ("Psihologs", "Psychologist"),
        ("Plāna sagatavošana un uzraudzība", "Plan preparation and supervision"),
    ):
        assert lv in text and en in text
    assert "Reģistrācijas Nr. / Registration No. 90000051525" in text
    assert "Periods / Period 01.10.2026.–31.10.2026." in text
    assert f"Lapa 1 no {len(pages)} / Page 1 of {len(pages)}" in pages[0].extract_text()
    for line in ("Sagatavoja / Prepared by", "Apstiprināja / Approved by", "Datums / Date", "paraksts / signature"):
        assert line in text
    unknown = render_pdf(StatementData("t-2", "Jelgavas tehnikums", date(2026, 2, 1), LINES))
    unknown_text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(unknown)).pages)
    assert "nav zināms / not known yet" in unknown_text and "01.02.2026.–28.02.2026." in unknown_text


def test_a_month_is_one_form_everywhere_yyyy_mm_in_and_out():
    """Issue 13: claims answered 2026-10-01 and statements took a date; now YYYY-MM both ways, nothing else."""
    field = Month()
    assert field.deserialize("2026-10") == date(2026, 10, 1)
    for wrong in ("2026-10-17", "2026-10-01", "2026-13", "26-10", "2026-1", "0350-05", "1999-12"):
        with pytest.raises(ValidationError):
            field.deserialize(wrong)
    assert ClaimSchema().dump({"month": date(2026, 10, 1)})["month"] == "2026-10"
    assert StatementCreateSchema().load({"tenant_id": str(uuid.uuid4()), "month": "2026-10"})["month"] == date(
        2026, 10, 1
    )
    with pytest.raises(ValidationError):
        StatementCreateSchema().load({"tenant_id": str(uuid.uuid4()), "month": "2026-10-01"})
